//! Inference, written once for every caller: the CLI's `eval`/`predict` and the trainer's scoring
//! (through [`crate::Pipeline`]), `nerco export`/`embed` and the dev contrastive loss
//! ([`encode_buckets`]), and the browser demo, which runs the same [`Run`] but reads tensors back
//! asynchronously.
//!
//! - [`plan`]: text → lines → pieces of at most `max_len` → length buckets (host, no tensors);
//! - [`forward`](mod@forward): one planned batch through the tagger (device, tensors out);
//! - [`run`]: the loop over a plan's batches, fed with the values read back;
//! - [`run`] also decodes Binder's span scores as they arrive;
//! - [`assemble`]: per-piece emissions or spans → tags, marginals, entities, the page's
//!   [`Analysis`];
//! - `load` (native): a run directory or bundle from disk.

pub mod assemble;
pub mod forward;
#[cfg(feature = "native")]
pub mod load;
pub mod plan;
pub mod run;

pub use assemble::{Analysis, Entity, Line, spans_to_entities};
pub use forward::{Encoded, Forward, crf_tensors, encode_buckets, forward};
pub use plan::{Plan, TextPlan, split_long};
pub(crate) use run::ScoreLayout;
pub use run::{Outputs, Run};

/// Pieces per forward pass when tagging free text (the web page, [`crate::Pipeline::tag`]).
pub const TEXT_BATCH: usize = 16;
