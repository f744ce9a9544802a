//! diffai-core: reads AI/ML artifacts into value trees and compares them. Never prints, never
//! exits: the `diffai` binary does that.

pub mod analysis;
pub mod artifact;
pub mod deflated;
pub mod diff;
pub mod error;
pub mod formats;
#[doc(hidden)]
pub mod fuzzing;
pub mod inspect;
pub mod mapped;
pub mod report;
pub mod stats;
pub mod tensor;
pub mod value;

pub use artifact::Artifact;
pub use error::{Error, Result};
pub use report::Report;
pub use value::Value;
