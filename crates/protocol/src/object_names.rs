//! Object names of the built-in messages the protocol gives a meaning to.
//! The content JSON of each server-written notice is documented in the
//! .proto next to `Message`.

/// Text message.
pub const TEXT: &str = "RC:TxtMsg";
/// Typing status (a status message; never stored).
pub const TYPING_STATUS: &str = "RC:TypSts";
/// Recall notice written by the server into every inbox concerned.
pub const RECALL_NOTICE: &str = "RC:RcNtf";
/// Private read receipt.
pub const READ_NOTICE: &str = "RC:ReadNtf";
/// Read-status sync between the own devices.
pub const SYNC_READ_STATUS: &str = "RC:SRSMsg";
/// Group read-receipt request.
pub const RECEIPT_REQUEST: &str = "RC:RRReqMsg";
/// Group read-receipt response.
pub const RECEIPT_RESPONSE: &str = "RC:RRRspMsg";
/// Message expansion change.
pub const EXPANSION_NOTICE: &str = "RC:MsgExMsg";
