"""BERT WordPiece tokenizer reimplemented from the backbone's tokenizer.json (no `tokenizers` package here).

Follows Hugging Face tokenizers' BertNormalizer(clean_text, handle_chinese_chars, lowercase, strip_accents=None
-> follows lowercase), BertPreTokenizer, WordPiece(unk [UNK], '##', max 100 chars), TemplateProcessing
[CLS] A [SEP], and the WordPiece decoder with cleanup. The Java side uses DJL's HuggingFaceTokenizer on the
same file; a parity fixture compares ids.
"""
import json
import unicodedata

_WS = set("\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200b)}


def _is_whitespace(c):
    return c in _WS


def _is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c) in ("Cc", "Cf", "Cn", "Co", "Cs")


def _is_punct(c):
    o = ord(c)
    if (33 <= o <= 47) or (58 <= o <= 64) or (91 <= o <= 96) or (123 <= o <= 126):
        return True
    return unicodedata.category(c) in ("Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps")


def _is_cjk(o):
    return ((0x4E00 <= o <= 0x9FFF) or (0x3400 <= o <= 0x4DBF) or (0x20000 <= o <= 0x2A6DF)
            or (0x2A700 <= o <= 0x2B73F) or (0x2B740 <= o <= 0x2B81F) or (0x2B820 <= o <= 0x2CEAF)
            or (0xF900 <= o <= 0xFAFF) or (0x2F800 <= o <= 0x2FA1F))


class WordPiece:
    def __init__(self, tokenizer_json):
        with open(tokenizer_json, encoding="utf-8") as f:
            t = json.load(f)
        self.vocab = t["model"]["vocab"]
        self.inv = {i: s for s, i in self.vocab.items()}
        self.unk = self.vocab[t["model"]["unk_token"]]
        self.prefix = t["model"]["continuing_subword_prefix"]
        self.max_chars = t["model"]["max_input_chars_per_word"]
        self.cls, self.sep, self.pad = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[PAD]"]
        self.special = {a["id"] for a in t["added_tokens"] if a.get("special")}

    def normalize(self, text):
        out = []
        for c in text:
            if c == "\0" or c == "\ufffd" or _is_control(c):
                continue
            if _is_whitespace(c):
                out.append(" ")
            elif _is_cjk(ord(c)):
                out.append(" " + c + " ")
            else:
                out.append(c)
        s = "".join(out)
        s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
        return s.lower()

    def pre_tokenize(self, s):
        words, cur = [], []
        for c in s:
            if _is_whitespace(c):
                if cur:
                    words.append("".join(cur))
                    cur = []
            elif _is_punct(c):
                if cur:
                    words.append("".join(cur))
                    cur = []
                words.append(c)
            else:
                cur.append(c)
        if cur:
            words.append("".join(cur))
        return words

    def word_ids(self, w):
        if len(w) > self.max_chars:
            return [self.unk]
        ids, start = [], 0
        while start < len(w):
            end, found = len(w), None
            while start < end:
                sub = w[start:end]
                if start > 0:
                    sub = self.prefix + sub
                if sub in self.vocab:
                    found = self.vocab[sub]
                    break
                end -= 1
            if found is None:
                return [self.unk]
            ids.append(found)
            start = end
        return ids

    def tokenize(self, text):
        ids = []
        for w in self.pre_tokenize(self.normalize(text)):
            ids.extend(self.word_ids(w))
        return ids

    def encode(self, text, max_len):
        """[CLS] tokens [SEP], truncated to max_len including the two specials."""
        ids = self.tokenize(text)[: max_len - 2]
        return [self.cls] + ids + [self.sep]

    def decode(self, ids):
        toks = [self.inv[i] for i in ids if i not in self.special]
        s = ""
        for i, t in enumerate(toks):
            if t.startswith(self.prefix):
                s += t[len(self.prefix):]
            else:
                s += (" " if i > 0 else "") + t
        for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
            s = s.replace(a, b)
        return s
