//! The tag set of a model: tags of one scheme, their Semantic Classes, and which transitions
//! the scheme allows (so decoding can never emit an ill-formed sequence).

use crate::data::{Scheme, semantic_class};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Index of the Non-Entity Semantic Class (the class of `O`).
pub const NON_ENTITY: usize = 0;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagSet {
    pub scheme: Scheme,
    /// Entity types, sorted; Semantic Class `k + 1` is `types[k]`.
    pub types: Vec<String>,
    /// All tags; `tags[0]` is `O`.
    pub tags: Vec<String>,
}

impl TagSet {
    /// Every tag of `scheme` for each type (not only the tags seen in training: test sets use
    /// tags that train lacks, e.g. Resume's `S-` tags).
    pub fn new(scheme: Scheme, types: impl IntoIterator<Item = String>) -> Self {
        let types: Vec<String> = types
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let prefixes: &[&str] = match scheme {
            Scheme::Bio => &["B", "I"],
            Scheme::Bioes => &["B", "I", "E", "S"],
            Scheme::Bmes => &["B", "M", "E", "S"],
        };
        let mut tags = vec!["O".to_string()];
        for ty in &types {
            for p in prefixes {
                tags.push(format!("{p}-{ty}"));
            }
        }
        Self {
            scheme,
            types,
            tags,
        }
    }

    /// The types that occur in tag sequences.
    pub fn from_tag_sequences<'a>(
        scheme: Scheme,
        seqs: impl IntoIterator<Item = &'a [String]>,
    ) -> Self {
        let mut types = BTreeSet::new();
        for seq in seqs {
            for t in seq {
                if let Some(c) = semantic_class(t) {
                    types.insert(c.to_string());
                }
            }
        }
        Self::new(scheme, types)
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Number of Semantic Classes, Non-Entity included.
    pub fn n_classes(&self) -> usize {
        self.types.len() + 1
    }

    pub fn tag_id(&self, tag: &str) -> Option<usize> {
        self.tags.iter().position(|t| t == tag)
    }

    /// Semantic Class id of a tag id.
    pub(crate) fn class_of(&self, tag_id: usize) -> usize {
        match semantic_class(&self.tags[tag_id]) {
            None => NON_ENTITY,
            Some(c) => self
                .types
                .iter()
                .position(|t| t == c)
                .map_or(NON_ENTITY, |k| k + 1),
        }
    }

    pub fn class_name(&self, class: usize) -> &str {
        if class == NON_ENTITY {
            "Non-Entity"
        } else {
            &self.types[class - 1]
        }
    }

    fn split(&self, tag_id: usize) -> (char, Option<&str>) {
        let t = &self.tags[tag_id];
        match semantic_class(t) {
            None => ('O', None),
            Some(c) => (t.chars().next().unwrap_or('O'), Some(c)),
        }
    }

    /// Whether `to` may follow `from`.
    pub(crate) fn allowed(&self, from: usize, to: usize) -> bool {
        let (pf, tf) = self.split(from);
        let (pt, tt) = self.split(to);
        let inside = |p: char| matches!(p, 'I' | 'M');
        match self.scheme {
            Scheme::Bio => !inside(pt) || (matches!(pf, 'B' | 'I') && tf == tt),
            Scheme::Bioes | Scheme::Bmes => {
                let open = matches!(pf, 'B') || inside(pf);
                if open {
                    (inside(pt) || pt == 'E') && tf == tt
                } else {
                    matches!(pt, 'O' | 'B' | 'S')
                }
            }
        }
    }

    pub(crate) fn allowed_start(&self, tag: usize) -> bool {
        let (p, _) = self.split(tag);
        !matches!(p, 'I' | 'M' | 'E')
    }

    pub(crate) fn allowed_end(&self, tag: usize) -> bool {
        let (p, _) = self.split(tag);
        match self.scheme {
            Scheme::Bio => true,
            _ => !matches!(p, 'B' | 'I' | 'M'),
        }
    }

    /// Additive penalties (0 allowed, `-penalty` forbidden): transitions `[from * T + to]`,
    /// start and end.
    pub fn penalties(&self, penalty: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let n = self.len();
        let pen = |ok: bool| if ok { 0.0 } else { -penalty };
        let trans = (0..n * n)
            .map(|k| pen(self.allowed(k / n, k % n)))
            .collect();
        let start = (0..n).map(|t| pen(self.allowed_start(t))).collect();
        let end = (0..n).map(|t| pen(self.allowed_end(t))).collect();
        (trans, start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ts: &TagSet, tags: &[&str]) -> Vec<usize> {
        tags.iter().map(|t| ts.tag_id(t).unwrap()).collect()
    }

    fn valid(ts: &TagSet, tags: &[&str]) -> bool {
        let ids = ids(ts, tags);
        ts.allowed_start(ids[0])
            && ts.allowed_end(*ids.last().unwrap())
            && ids.windows(2).all(|w| ts.allowed(w[0], w[1]))
    }

    #[test]
    fn bmes_constraints_match_the_scheme() {
        let ts = TagSet::new(Scheme::Bmes, ["ORG".into(), "PER".into()]);
        assert_eq!(ts.len(), 9);
        assert!(valid(&ts, &["B-PER", "M-PER", "E-PER", "S-ORG", "O"]));
        assert!(!valid(&ts, &["M-PER", "E-PER"]));
        assert!(!valid(&ts, &["B-PER", "E-ORG"]));
        assert!(!valid(&ts, &["B-PER", "O"]));
        assert!(!valid(&ts, &["O", "B-PER"]));
        assert!(!valid(&ts, &["E-PER", "M-PER", "E-PER"]));
    }

    #[test]
    fn bio_constraints_match_the_scheme() {
        let ts = TagSet::new(Scheme::Bio, ["LOC".into(), "PER".into()]);
        assert!(valid(&ts, &["B-PER", "I-PER", "B-LOC", "O", "B-PER"]));
        assert!(!valid(&ts, &["I-PER"]));
        assert!(!valid(&ts, &["O", "I-PER"]));
        assert!(!valid(&ts, &["B-LOC", "I-PER"]));
    }

    #[test]
    fn classes_ignore_position() {
        let ts = TagSet::new(Scheme::Bioes, ["PER.NAM".into(), "PER.NOM".into()]);
        let b = ts.tag_id("B-PER.NAM").unwrap();
        let e = ts.tag_id("E-PER.NAM").unwrap();
        let s = ts.tag_id("S-PER.NOM").unwrap();
        assert_eq!(ts.class_of(0), NON_ENTITY);
        assert_eq!(ts.class_of(b), ts.class_of(e));
        assert_ne!(ts.class_of(b), ts.class_of(s));
        assert_eq!(ts.class_name(ts.class_of(s)), "PER.NOM");
    }
}
