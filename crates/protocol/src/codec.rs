//! Frame codec: one [`Frame`] per binary WebSocket message.

use prost::Message as _;

use crate::{Frame, MAX_FRAME_BYTES};

/// Why a frame could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The frame is larger than [`MAX_FRAME_BYTES`].
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size of the offending frame.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a valid protobuf `Frame`.
    #[error("undecodable frame: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// Encodes `frame` as the payload of one binary WebSocket message.
///
/// Fails only when the result would exceed [`MAX_FRAME_BYTES`], which the
/// peer would refuse anyway.
pub fn encode_frame(frame: &Frame) -> Result<Vec<u8>, FrameError> {
    let size = frame.encoded_len();
    if size > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            size,
            max: MAX_FRAME_BYTES,
        });
    }
    Ok(frame.encode_to_vec())
}

/// Decodes the payload of one binary WebSocket message.
///
/// Unknown fields are skipped (forward compatibility); a frame whose `kind`
/// is unknown decodes with `kind: None` and is the caller's to refuse.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge {
            size: bytes.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    Ok(Frame::decode(bytes)?)
}
