//! A frequency-ordered token list with ids (0 = padding, 1 = unknown): the type behind the
//! character, bigram and lexicon-word vocabularies. Kept apart from `vocab` so the lexicon can
//! use it without `vocab` and `lexicon` importing each other.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const PAD: usize = 0;
pub const UNK: usize = 1;

/// A frequency-filtered token list; ids 0 and 1 are padding and unknown.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct Vocab {
    tokens: Vec<String>,
    index: HashMap<String, usize>,
}

impl From<Vec<String>> for Vocab {
    fn from(tokens: Vec<String>) -> Self {
        let index = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        Self { tokens, index }
    }
}

impl From<Vocab> for Vec<String> {
    fn from(v: Vocab) -> Self {
        v.tokens
    }
}

impl Vocab {
    /// Tokens seen at least `min_freq` times, most frequent first (ties by token, so the ids
    /// are reproducible).
    pub(crate) fn build<I: IntoIterator<Item = String>>(tokens: I, min_freq: usize) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for t in tokens {
            *counts.entry(t).or_default() += 1;
        }
        let mut kept: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|(_, c)| *c >= min_freq.max(1))
            .collect();
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut tokens = vec!["<pad>".to_string(), "<unk>".to_string()];
        tokens.extend(kept.into_iter().map(|(t, _)| t));
        Self::from(tokens)
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tokens.len() <= 2
    }

    pub fn id(&self, token: &str) -> usize {
        self.index.get(token).copied().unwrap_or(UNK)
    }

    pub(crate) fn token(&self, id: usize) -> &str {
        &self.tokens[id]
    }

    /// The `n` first ids (padding and unknown always kept): as ids are ordered by frequency,
    /// the `n − 2` most frequent tokens; the others become unknown.
    pub fn truncated(&self, n: usize) -> Self {
        let n = n.max(2).min(self.tokens.len());
        Self::from(self.tokens[..n].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncating_keeps_the_most_frequent_tokens() {
        let v = Vocab::build(["a", "b", "b", "c", "c", "c"].map(String::from), 1);
        let t = v.truncated(3);
        assert_eq!(t.len(), 3);
        assert_eq!(t.id("c"), 2);
        assert_eq!(t.id("b"), UNK);
        assert_eq!(v.truncated(0).len(), 2);
        assert_eq!(v.truncated(99).len(), v.len());
    }

    #[test]
    fn vocab_survives_json() {
        let v = Vocab::build(["a".to_string(), "b".into(), "a".into()], 1);
        let back: Vocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back.id("a"), v.id("a"));
        assert_eq!(back.token(2), "a");
    }
}
