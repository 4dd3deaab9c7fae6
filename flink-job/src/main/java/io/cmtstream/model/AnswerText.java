package io.cmtstream.model;

/**
 * Joins the spacing of a decoded answer the way the trainer's evaluation does (Hugging Face transformers'
 * {@code clean_up_tokenization} over the whole string).
 *
 * <p>The Rust tokenizer behind DJL applies the WordPiece decoder's clean-up to one token at a time, so a pattern
 * that spans tokens, such as {@code nice ' s}, stays apart. The SQuAD normalisation then strips the apostrophe and
 * scores two words ({@code nice s}) against the reference's one ({@code nices}): the job's answers would score
 * below the figures the model was chosen by.
 */
public final class AnswerText {

    // order matters: " ' " must become "'" before " 's" is looked for
    private static final String[][] CLEAN_UP = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"},
        {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };

    private AnswerText() {
    }

    public static String cleanUp(String decoded) {
        String s = decoded;
        for (String[] rule : CLEAN_UP) {
            s = s.replace(rule[0], rule[1]);
        }
        return s.trim();
    }
}
