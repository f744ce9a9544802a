//! PyTorch checkpoints: the zip format (torch >= 1.6), the legacy format, TorchScript archives.

pub mod pickle;
