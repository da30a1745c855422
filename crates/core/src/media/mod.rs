//! Media messages (issue 12; seed 002 "语法糖"): images, GIFs, files, HQ voice and sight
//! messages uploaded to and downloaded from imsync-server, off the JS thread.

mod content;
mod download;
mod state;
pub mod thumbnail;
pub mod transfer;
mod upload;

pub use state::MediaState;
pub(crate) use upload::fail_interrupted_uploads;
