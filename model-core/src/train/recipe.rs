//! Recipes (what a run trains) and the phases each runs, in order.

use super::stage::Select;
use crate::config::HeadKind;
use crate::loss::Queries;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// Stage 1 (Semantic-Class InfoNCE) then stage 2 (CRF fine-tuning).
    Nerco,
    /// Stage 2 only: the baseline.
    NoContrast,
    /// One stage with loss = CRF NLL + InfoNCE.
    Joint,
    /// Like nerco, but Non-Entity tokens are queries too.
    NoFilter,
    /// Binder's span/type head alone (one tagging phase with its loss).
    Binder,
    /// NerCo's stage 1 (Semantic-Class InfoNCE), then the Binder head.
    #[serde(rename = "nerco+binder")]
    NercoBinder,
}

/// The phases a recipe runs, in order; `Done` once all have run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Contrast,
    Tagging,
    Joint,
    Done,
}

impl Recipe {
    pub const ALL: [Recipe; 6] = [
        Recipe::Nerco,
        Recipe::NoContrast,
        Recipe::Joint,
        Recipe::NoFilter,
        Recipe::Binder,
        Recipe::NercoBinder,
    ];

    /// The name used on the command line, in configs and run directories.
    pub fn name(self) -> &'static str {
        match self {
            Recipe::Nerco => "nerco",
            Recipe::NoContrast => "no-contrast",
            Recipe::Joint => "joint",
            Recipe::NoFilter => "no-filter",
            Recipe::Binder => "binder",
            Recipe::NercoBinder => "nerco+binder",
        }
    }

    /// The output head the recipe trains: its tagging phase is that head's loss.
    pub fn head(self) -> HeadKind {
        match self {
            Recipe::Binder | Recipe::NercoBinder => HeadKind::Binder,
            _ => HeadKind::Crf,
        }
    }

    pub fn phases(self) -> &'static [Phase] {
        match self {
            Recipe::Nerco | Recipe::NoFilter | Recipe::NercoBinder => {
                &[Phase::Contrast, Phase::Tagging]
            }
            Recipe::NoContrast | Recipe::Binder => &[Phase::Tagging],
            Recipe::Joint => &[Phase::Joint],
        }
    }

    /// The phase after `phase` (`Done` after the last); `None` when `phase` is not in the recipe.
    pub fn next_phase(self, phase: Phase) -> Option<Phase> {
        let phases = self.phases();
        let pos = phases.iter().position(|&p| p == phase)?;
        Some(phases.get(pos + 1).copied().unwrap_or(Phase::Done))
    }

    /// Which tokens are InfoNCE queries.
    pub fn queries(self) -> Queries {
        if self == Recipe::NoFilter {
            Queries::All
        } else {
            Queries::Entities
        }
    }
}

impl std::str::FromStr for Recipe {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Recipe::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Recipe::ALL.iter().map(|r| r.name()).collect();
                format!("unknown recipe `{s}` (one of {})", names.join(", "))
            })
    }
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Contrast => "stage1",
            Phase::Tagging => "stage2",
            Phase::Joint => "joint",
            Phase::Done => "done",
        }
    }

    /// Stage 1 selects by `select` (dev InfoNCE: lower is better; a cluster-quality measure:
    /// higher); the others on dev F1 (higher).
    pub fn lower_is_better(self, select: Select) -> bool {
        self == Phase::Contrast && select.lower_is_better()
    }

    /// Whether this phase fine-tunes the tagger after a stage 1 of `recipe` (nerco, no-filter):
    /// only then do stage 2's options for keeping stage 1 apply. The baseline's stage 2 starts
    /// from a random encoder, with nothing to keep, so it trains as before.
    pub fn keeps_stage1(self, recipe: Recipe) -> bool {
        self == Phase::Tagging && recipe.phases().contains(&Phase::Contrast)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_each_other_and_end_in_done() {
        assert_eq!(
            Recipe::Nerco.next_phase(Phase::Contrast),
            Some(Phase::Tagging)
        );
        assert_eq!(Recipe::Nerco.next_phase(Phase::Tagging), Some(Phase::Done));
        assert_eq!(
            Recipe::NoContrast.next_phase(Phase::Tagging),
            Some(Phase::Done)
        );
        assert_eq!(Recipe::Joint.next_phase(Phase::Joint), Some(Phase::Done));
        // A phase the recipe does not have (a hand-edited state file) is not silently skipped.
        assert_eq!(Recipe::NoContrast.next_phase(Phase::Contrast), None);
    }

    #[test]
    fn recipe_names_round_trip_and_unknown_names_list_the_choices() {
        for r in Recipe::ALL {
            assert_eq!(r.name().parse::<Recipe>(), Ok(r));
        }
        let err = "nerko".parse::<Recipe>().unwrap_err();
        assert!(
            err.contains("nerko") && err.contains("no-contrast"),
            "{err}"
        );
        assert_eq!(Recipe::NoFilter.queries(), Queries::All);
    }

    #[test]
    fn selection_direction_and_which_stage_2_keeps_stage_1() {
        assert!(Phase::Contrast.lower_is_better(Select::Infonce));
        assert!(!Phase::Contrast.lower_is_better(Select::KnnPurity));
        assert!(!Phase::Contrast.lower_is_better(Select::Silhouette));
        // Dev F1 is higher-is-better whatever stage 1 selects by.
        assert!(!Phase::Tagging.lower_is_better(Select::Infonce));
        assert!(!Phase::Joint.lower_is_better(Select::Infonce));
        assert!(Phase::Tagging.keeps_stage1(Recipe::Nerco));
        assert!(Phase::Tagging.keeps_stage1(Recipe::NoFilter));
        assert!(!Phase::Tagging.keeps_stage1(Recipe::NoContrast));
        assert!(!Phase::Joint.keeps_stage1(Recipe::Joint));
        assert!(!Phase::Contrast.keeps_stage1(Recipe::Nerco));
        assert_eq!(Recipe::Nerco.queries(), Queries::Entities);
        assert_eq!(Recipe::NercoBinder.queries(), Queries::Entities);
        // The two Binder recipes pick the Binder head; serde spells them as the CLI does.
        for r in Recipe::ALL {
            let binder = matches!(r, Recipe::Binder | Recipe::NercoBinder);
            assert_eq!(r.head() == HeadKind::Binder, binder, "{r:?}");
            assert_eq!(serde_json::to_value(r).unwrap(), r.name());
        }
        assert_eq!(
            Recipe::NercoBinder.next_phase(Phase::Contrast),
            Some(Phase::Tagging)
        );
    }
}
