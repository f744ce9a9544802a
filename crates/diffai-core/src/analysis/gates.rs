//! The gates: `--regression-test` and `--alert-on-degradation` run a list of checks with
//! thresholds from [`Settings`] and fail the run (exit 3) when one fails;
//! `--deployment-readiness` and `--risk-assessment` score the same checklist and map it through a
//! published table to a rollout strategy and a risk.

use super::metadata::global_rel_l2;
use super::tensors::{entries, parameters, Entry, Match};
use super::{Analysis, Field, Finding, Input, Settings};
use crate::stats::{self, Job, Outcome};

pub struct RegressionTest;
pub struct AlertOnDegradation;
pub struct DeploymentReadiness;
pub struct RiskAssessment;

/// One check: its name and whether it passed (with what was measured).
struct Check {
    name: &'static str,
    passed: bool,
    detail: String,
}

fn checks(input: &Input) -> (Vec<Check>, Option<f64>) {
    let s: &Settings = input.settings;
    let all = entries(input);
    let count = |k: Match| all.iter().filter(|e| e.kind == k).count();
    let (removed, reshaped, retyped) = (
        count(Match::Removed),
        count(Match::Reshaped),
        count(Match::Retyped),
    );
    let non_finite = non_finite_tensors(input, all);
    let global = global_rel_l2(all);
    let (p_old, p_new) = (parameters(all, true), parameters(all, false));
    let param_change = if p_old > 0 {
        (p_new as f64 / p_old as f64 - 1.0).abs()
    } else {
        0.0
    };
    let (b_old, b_new) = (input.report.old.bytes, input.report.new.bytes);
    let growth = if b_old > 0 {
        b_new as f64 / b_old as f64 - 1.0
    } else {
        0.0
    };
    let out = vec![
        Check {
            name: "compatible",
            passed: removed + reshaped + retyped == 0,
            detail: format!("{removed} removed, {reshaped} reshaped, {retyped} retyped"),
        },
        Check {
            name: "finite",
            passed: non_finite == 0,
            detail: format!("{non_finite} tensors with NaN or Inf in new"),
        },
        Check {
            name: "rel_l2",
            passed: global.is_none_or(|g| g <= s.max_rel_l2),
            detail: format!(
                "global rel_l2 {} <= {}",
                global.map_or("n/a".into(), |g| format!("{g:.6}")),
                s.max_rel_l2
            ),
        },
        Check {
            name: "parameters",
            passed: param_change <= s.max_param_change,
            detail: format!(
                "parameter change {:.4}% <= {}%",
                param_change * 100.0,
                s.max_param_change * 100.0
            ),
        },
        Check {
            name: "size",
            passed: growth <= s.max_size_growth,
            detail: format!(
                "file growth {:.4}% <= {}%",
                growth * 100.0,
                s.max_size_growth * 100.0
            ),
        },
    ];
    (out, global)
}

/// Tensors of new holding a NaN or Inf (statistics from the diff where it has them).
fn non_finite_tensors(input: &Input, all: &[Entry]) -> usize {
    let known: std::collections::HashMap<&str, bool> = input
        .report
        .changes
        .iter()
        .filter_map(|c| {
            let s = c.new.as_ref()?.stats()?;
            Some((c.path.as_str(), s.nan + s.inf > 0))
        })
        .collect();
    let mut count = known.values().filter(|b| **b).count();
    let jobs: Vec<Job> = all
        .iter()
        .filter(|e| !known.contains_key(e.path.as_str()))
        .filter_map(|e| e.new.map(Job::Single))
        .collect();
    count += stats::compute(&jobs, Default::default(), None)
        .iter()
        .filter(|o| matches!(o, Outcome::Single(s) if s.nan + s.inf > 0))
        .count();
    count
}

fn gate(input: &Input) -> Finding {
    let (checks, _) = checks(input);
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.to_string())
        .collect();
    let passed: Vec<String> = checks
        .iter()
        .filter(|c| c.passed)
        .map(|c| c.name.to_string())
        .collect();
    Finding {
        passed: Some(failed.is_empty()),
        rows: checks
            .iter()
            .map(|c| {
                vec![
                    ("check", Field::from(c.name)),
                    ("passed", Field::from(if c.passed { "yes" } else { "no" })),
                    ("detail", Field::Text(c.detail.clone())),
                ]
            })
            .collect(),
        ..Finding::default()
    }
    .field("passed", Field::List(passed))
    .field("failed", Field::List(failed))
}

/// The published table: incompatible → hold (high risk); compatible with a change beyond the
/// rel_l2 threshold → gradual rollout (medium risk); compatible and small → full (low risk).
fn readiness(input: &Input) -> Finding {
    let (checks, global) = checks(input);
    let score = checks.iter().filter(|c| c.passed).count() as f64 / checks.len() as f64;
    let compatible = checks.iter().all(|c| c.passed || c.name == "rel_l2");
    let large = global.is_some_and(|g| g > input.settings.max_rel_l2);
    let (strategy, risk) = match (compatible, large) {
        (false, _) => ("hold", "high"),
        (true, true) => ("gradual", "medium"),
        (true, false) => ("full", "low"),
    };
    Finding {
        rows: checks
            .iter()
            .map(|c| {
                vec![
                    ("check", Field::from(c.name)),
                    ("passed", Field::from(if c.passed { "yes" } else { "no" })),
                ]
            })
            .collect(),
        ..Finding::default()
    }
    .field("readiness", score)
    .field("strategy", strategy)
    .field("risk", risk)
}

macro_rules! analysis {
    ($ty:ident, $name:literal, $flag:literal, $help:literal, $run:ident) => {
        impl Analysis for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn flag(&self) -> &'static str {
                $flag
            }
            fn help(&self) -> &'static str {
                $help
            }
            fn run(&self, input: &Input) -> Finding {
                $run(input)
            }
        }
    };
}

analysis!(RegressionTest, "regression_test", "regression-test",
    "checks: compatible names/shapes/dtypes, no NaN/Inf, rel_l2, parameter change, size growth (thresholds below); exit 3 on failure", gate);
analysis!(
    AlertOnDegradation,
    "alert_on_degradation",
    "alert-on-degradation",
    "the same checks as --regression-test, reported as an alert; exit 3 on failure",
    gate
);
analysis!(DeploymentReadiness, "deployment_readiness", "deployment-readiness",
    "readiness = checks passed / checks; strategy and risk from the published table (hold / gradual / full)", readiness);
analysis!(
    RiskAssessment,
    "risk_assessment",
    "risk-assessment",
    "the same checklist and table as --deployment-readiness",
    readiness
);
