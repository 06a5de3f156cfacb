//! Reading CoNLL-style data.
