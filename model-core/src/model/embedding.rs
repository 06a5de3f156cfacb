//! Character and bigram embeddings, concatenated and projected to the model width.

use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig,
};
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct CharBigramEmbeddingConfig {
    pub(crate) n_chars: usize,
    pub(crate) n_bigrams: usize,
    #[config(default = 100)]
    pub(crate) char_dim: usize,
    #[config(default = 100)]
    pub(crate) bigram_dim: usize,
    pub(crate) d_model: usize,
    /// Width of extra per-character features (a pretrained encoder's output) concatenated before
    /// the projection; 0 for none.
    #[config(default = 0)]
    pub(crate) extra_dim: usize,
    #[config(default = 0.5)]
    pub(crate) dropout: f64,
}

#[derive(Module, Debug)]
pub struct CharBigramEmbedding {
    pub(crate) chars: Embedding,
    pub(crate) bigrams: Embedding,
    pub(crate) proj: Linear,
    pub(crate) dropout: Dropout,
}

impl CharBigramEmbeddingConfig {
    pub(crate) fn init(&self, device: &Device) -> CharBigramEmbedding {
        // Unit-variance embeddings dwarf everything after a projection; FLAT-sized vectors are
        // small, so start them that way.
        let init = Initializer::Normal {
            mean: 0.0,
            std: 0.1,
        };
        CharBigramEmbedding {
            chars: EmbeddingConfig::new(self.n_chars, self.char_dim)
                .with_initializer(init.clone())
                .init(device),
            bigrams: EmbeddingConfig::new(self.n_bigrams, self.bigram_dim)
                .with_initializer(init)
                .init(device),
            proj: LinearConfig::new(
                self.char_dim + self.bigram_dim + self.extra_dim,
                self.d_model,
            )
            .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

impl CharBigramEmbedding {
    /// Keeps the first `n` rows of the bigram table (ids are frequency-ordered, see
    /// [`crate::vocab::Vocab::truncated`]): a smaller model for the browser.
    pub fn keep_bigrams(mut self, n: usize) -> Self {
        self.bigrams = keep_rows(self.bigrams, n);
        self
    }

    /// `[batch, len]` ids (and `[batch, len, extra_dim]` features) → `[batch, len, d_model]`.
    pub fn forward(
        &self,
        chars: Tensor<2, Int>,
        bigrams: Tensor<2, Int>,
        extra: Option<Tensor<3>>,
    ) -> Tensor<3> {
        let mut parts = vec![self.chars.forward(chars), self.bigrams.forward(bigrams)];
        parts.extend(extra);
        let x = Tensor::cat(parts, 2);
        self.proj.forward(self.dropout.forward(x))
    }
}

/// The lattice's word embeddings (FLAT): their own table, dropout and projection to the model width.
#[derive(Config, Debug)]
pub struct WordEmbeddingConfig {
    pub(crate) n_words: usize,
    pub(crate) d_model: usize,
    #[config(default = 100)]
    pub(crate) word_dim: usize,
    #[config(default = 0.5)]
    pub(crate) dropout: f64,
}

#[derive(Module, Debug)]
pub struct WordEmbedding {
    pub(crate) words: Embedding,
    pub(crate) proj: Linear,
    pub(crate) dropout: Dropout,
}

impl WordEmbeddingConfig {
    pub(crate) fn init(&self, device: &Device) -> WordEmbedding {
        WordEmbedding {
            words: EmbeddingConfig::new(self.n_words, self.word_dim)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.1,
                })
                .init(device),
            proj: LinearConfig::new(self.word_dim, self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

impl WordEmbedding {
    /// Keeps the first `n` rows of the word table (ids are frequency-ordered, see
    /// [`crate::lexicon::Lexicon::truncated`]).
    pub fn keep_words(mut self, n: usize) -> Self {
        self.words = keep_rows(self.words, n);
        self
    }

    /// `[batch, words]` ids → `[batch, words, d_model]`.
    pub fn forward(&self, words: Tensor<2, Int>) -> Tensor<3> {
        self.proj
            .forward(self.dropout.forward(self.words.forward(words)))
    }
}

/// The table's first `n` rows (all of them when it has no more than `n`).
fn keep_rows(mut table: Embedding, n: usize) -> Embedding {
    if n < table.weight.val().dims()[0] {
        let w = table.weight.val().narrow(0, 0, n);
        table.weight = burn::module::Param::from_tensor(w);
    }
    table
}
