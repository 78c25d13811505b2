//! DPoP (RFC 9449) at a resource server: the replay store the layer remembers used proofs in.

mod replay;

pub use replay::{MemoryReplayStore, ReplayStore, replay_key};
