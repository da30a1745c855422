//! Sensitive-word matching: case-insensitive substring search that is safe for
//! any script (CJK has no word boundaries, so a word matches anywhere, as the
//! vendor's filter does).
//!
//! Case folding maps each character to exactly one character (its lowercase
//! when that is a single character, else itself), so a match in the folded
//! text has the same character positions in the original and the original's
//! other characters are kept byte for byte when words are masked.

use aho_corasick::{AhoCorasick, MatchKind};

/// What to do with a message that contains a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Deliver nothing (vendor code 21501).
    Block,
    /// Deliver with the word replaced by this text (vendor code 21502).
    Replace(String),
}

/// One configured word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as the admin gave it.
    pub word: String,
    /// What a hit does.
    pub action: Action,
}

/// The outcome of filtering one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No word matched.
    Clean,
    /// A block word matched.
    Blocked,
    /// Only replace words matched; the masked text.
    Replaced(String),
}

/// The compiled word list.
pub struct Filter {
    words: Vec<Word>,
    block: Option<AhoCorasick>,
    /// Replace words and, by pattern index, their replacement.
    replace: Option<(AhoCorasick, Vec<String>)>,
}

/// `c` folded for matching: one character in, one out.
fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// The folded form of a word: also its identity in the word list, so "Bad"
/// and "bad" are one word.
pub fn fold(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

impl Filter {
    /// Compiles `words`. Empty words are ignored (they would match everywhere).
    pub fn new(words: Vec<Word>) -> Filter {
        let build = |patterns: &[String]| {
            (!patterns.is_empty()).then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(patterns)
                    .expect("a few short literal patterns always compile")
            })
        };
        let mut block = Vec::new();
        let mut replace = Vec::new();
        let mut with = Vec::new();
        for w in words.iter().filter(|w| !w.word.is_empty()) {
            match &w.action {
                Action::Block => block.push(fold(&w.word)),
                Action::Replace(r) => {
                    replace.push(fold(&w.word));
                    with.push(r.clone());
                }
            }
        }
        Filter {
            block: build(&block),
            replace: build(&replace).map(|ac| (ac, with)),
            words,
        }
    }

    /// The words this filter was built from.
    pub fn words(&self) -> &[Word] {
        &self.words
    }

    /// Whether any word is configured (no work at all otherwise).
    pub fn is_empty(&self) -> bool {
        self.block.is_none() && self.replace.is_none()
    }

    /// Filters `text`: a block word anywhere wins over replace words.
    pub fn check(&self, text: &str) -> Verdict {
        if self.is_empty() || text.is_empty() {
            return Verdict::Clean;
        }
        let folded: String = text.chars().map(fold_char).collect();
        if let Some(block) = &self.block {
            if block.is_match(&folded) {
                return Verdict::Blocked;
            }
        }
        let Some((ac, with)) = &self.replace else {
            return Verdict::Clean;
        };
        let hits: Vec<_> = ac.find_iter(&folded).collect();
        if hits.is_empty() {
            return Verdict::Clean;
        }
        // At every folded char boundary, the original's byte offset (one char in each
        // for one char in the other).
        let mut original_at = vec![0; folded.len() + 1];
        let mut at = 0;
        for (i, c) in text.char_indices() {
            original_at[at] = i;
            at += fold_char(c).len_utf8();
        }
        original_at[folded.len()] = text.len();
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in hits {
            let (start, end) = (original_at[m.start()], original_at[m.end()]);
            out.push_str(&text[last..start]);
            out.push_str(&with[m.pattern().as_usize()]);
            last = end;
        }
        out.push_str(&text[last..]);
        Verdict::Replaced(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(words: &[(&str, Option<&str>)]) -> Filter {
        Filter::new(
            words
                .iter()
                .map(|(w, r)| Word {
                    word: w.to_string(),
                    action: match r {
                        None => Action::Block,
                        Some(r) => Action::Replace(r.to_string()),
                    },
                })
                .collect(),
        )
    }

    #[test]
    fn matching_ignores_case_in_any_script() {
        let f = filter(&[("Spam", None), ("ПРИВЕТ", None), ("straße", None)]);
        assert_eq!(f.check("buy SPAM now"), Verdict::Blocked);
        assert_eq!(f.check("buy sPaM now"), Verdict::Blocked);
        assert_eq!(f.check("ну привет"), Verdict::Blocked);
        assert_eq!(f.check("STRASSE"), Verdict::Clean, "no multi-char folding");
        assert_eq!(f.check("Straße"), Verdict::Blocked);
        assert_eq!(f.check("spa m"), Verdict::Clean);
        assert_eq!(f.check(""), Verdict::Clean);
    }

    #[test]
    fn cjk_words_match_inside_text_without_spaces() {
        let f = filter(&[("赌博", Some("**")), ("坏", None)]);
        assert_eq!(
            f.check("今天去赌博吗"),
            Verdict::Replaced("今天去**吗".into())
        );
        assert_eq!(f.check("这是坏人"), Verdict::Blocked);
        assert_eq!(f.check("赌 博"), Verdict::Clean);
    }

    #[test]
    fn replace_keeps_the_rest_byte_for_byte() {
        let f = filter(&[("darn", Some("***")), ("heck", Some("h*ck"))]);
        assert_eq!(
            f.check("DARN it, what the Heck, darn! İ😀"),
            Verdict::Replaced("*** it, what the h*ck, ***! İ😀".into())
        );
        // A character whose lowercase is longer than one char stays as is
        // and does not shift positions.
        assert_eq!(f.check("İİ darn İ"), Verdict::Replaced("İİ *** İ".into()));
    }

    #[test]
    fn longest_word_wins_and_block_beats_replace() {
        let f = filter(&[("bad", Some("***")), ("badword", Some("#"))]);
        assert_eq!(f.check("a badword"), Verdict::Replaced("a #".into()));
        let f = filter(&[("bad", Some("***")), ("worse", None)]);
        assert_eq!(f.check("bad and worse"), Verdict::Blocked);
        assert_eq!(
            f.check("bad and bad"),
            Verdict::Replaced("*** and ***".into())
        );
    }

    #[test]
    fn no_words_means_clean() {
        let f = filter(&[]);
        assert!(f.is_empty());
        assert_eq!(f.check("anything"), Verdict::Clean);
    }
}

#[cfg(test)]
mod speed {
    use std::time::Instant;

    use super::*;

    /// The cost the filter adds to a text send, for the report (run with --release
    /// --ignored): 50 words, texts of 100 and 4000 characters, mixed scripts.
    #[test]
    #[ignore]
    fn filter_speed() {
        let words: Vec<Word> = (0..50)
            .map(|i| Word {
                word: if i % 2 == 0 {
                    format!("Word{i}")
                } else {
                    format!("敏感{i}")
                },
                action: if i % 3 == 0 {
                    Action::Block
                } else {
                    Action::Replace("***".into())
                },
            })
            .collect();
        let t = Instant::now();
        let f = Filter::new(words);
        println!("compile 50 words: {:?}", t.elapsed());
        for (what, sample) in [
            ("clean", "Hello 你好 Straße, nothing to see here. "),
            ("masked", "Hello 你好 Straße word1 敏感1 "),
        ] {
            for len in [100usize, 4000] {
                let text: String = sample.chars().cycle().take(len).collect();
                let n = 20_000;
                let t = Instant::now();
                for _ in 0..n {
                    std::hint::black_box(f.check(std::hint::black_box(&text)));
                }
                println!("check {what} {len} chars: {:?} per text", t.elapsed() / n);
            }
        }
    }
}
