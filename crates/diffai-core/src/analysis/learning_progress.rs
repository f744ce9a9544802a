//! `--learning-progress` and `--convergence-analysis`: the weights' global relative change, the
//! loss recorded in the checkpoints, and labels from documented bands.

use super::metadata::{global_rel_l2, number};
use super::tensors::entries;
use super::{Analysis, Field, Finding, Input};

pub struct LearningProgress;
pub struct Convergence;

/// A loss change within ±1 % (relative) is `stable`; below is `improving`, above `degrading`.
pub const LOSS_BAND: f64 = 0.01;
/// Global rel_l2 bands of `--convergence-analysis`: below 1e-4 the weights barely move
/// (`converged`), below 1e-2 they move by under a percent (`stable`), else `changing`.
pub const CONVERGED_BELOW: f64 = 1e-4;
pub const STABLE_BELOW: f64 = 1e-2;

fn loss_trend(input: &Input) -> (Field, Option<(f64, f64)>) {
    match (
        number(input.leaves(true), "loss"),
        number(input.leaves(false), "loss"),
    ) {
        (Some(o), Some(n)) => {
            let rel = if o != 0.0 { (n - o) / o.abs() } else { n - o };
            let trend = if rel < -LOSS_BAND {
                "improving"
            } else if rel > LOSS_BAND {
                "degrading"
            } else {
                "stable"
            };
            (Field::from(trend), Some((o, n)))
        }
        _ => (
            Field::from("unknown (no loss recorded in both files)"),
            None,
        ),
    }
}

impl Analysis for LearningProgress {
    fn name(&self) -> &'static str {
        "learning_progress"
    }

    fn flag(&self) -> &'static str {
        "learning-progress"
    }

    fn help(&self) -> &'static str {
        "trend from the recorded loss (+-1% band), magnitude = global rel_l2, speed = dloss/depoch (or /dstep)"
    }

    fn run(&self, input: &Input) -> Finding {
        let (trend, loss) = loss_trend(input);
        let magnitude = global_rel_l2(entries(input))
            .map_or(Field::Missing("no shared model tensors".into()), Field::Num);
        let per = |key: &str| match (
            number(input.leaves(true), key),
            number(input.leaves(false), key),
        ) {
            (Some(a), Some(b)) if b != a => Some(b - a),
            _ => None,
        };
        let speed = match (loss, per("epoch").or_else(|| per("global_step"))) {
            (Some((o, n)), Some(dt)) => Field::Num((n - o) / dt),
            (None, _) => Field::Missing("no loss recorded".into()),
            (_, None) => Field::Missing("no epoch or step change recorded".into()),
        };
        let mut f = Finding::default()
            .field("trend", trend)
            .field("magnitude", magnitude)
            .field("speed", speed);
        if let Some((o, n)) = loss {
            f = f.field("loss_old", o).field("loss_new", n);
        }
        f
    }
}

impl Analysis for Convergence {
    fn name(&self) -> &'static str {
        "convergence_analysis"
    }

    fn flag(&self) -> &'static str {
        "convergence-analysis"
    }

    fn help(&self) -> &'static str {
        "stability = global rel_l2; status converged (<1e-4) / stable (<1e-2) / changing; action from a fixed table"
    }

    fn run(&self, input: &Input) -> Finding {
        let Some(stability) = global_rel_l2(entries(input)) else {
            return Finding::default()
                .field("status", Field::Missing("no shared model tensors".into()));
        };
        let (status, action) = if stability < CONVERGED_BELOW {
            ("converged", "Consider stopping: the weights barely move")
        } else if stability < STABLE_BELOW {
            ("stable", "Continue training")
        } else {
            (
                "changing",
                "Monitor: the weights still move by more than 1 %",
            )
        };
        Finding::default()
            .field("status", status)
            .field("stability", stability)
            .field("action", action)
            .field("loss_trend", loss_trend(input).0)
    }
}
