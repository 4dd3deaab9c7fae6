"""unittest checks of the training package on tiny random tensors (no data files, no backbone download).

    /usr/bin/python3 -m unittest discover -s training/tests -t .      (from the repository root)
"""
