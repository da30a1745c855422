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
/// A message of the inbox owner was blocked by the sensitive-word filter (imsync's own
/// notice: the vendor tells the sender through its own channel, MESSAGE_BLOCKED).
pub const BLOCKED_NOTICE: &str = "imsync:BlkNtf";
/// Delivery receipts for messages of the inbox owner (imsync's own notice).
pub const DELIVERY_NOTICE: &str = "imsync:DlvNtf";
/// Delete for the inbox owner only, synced to its other devices (DeleteMessagesRequest).
pub const DELETE_NOTICE: &str = "RC:MsgDelNtf";

/// The notices only the server writes (documented next to `Message` in the .proto). A
/// client send with one of these names is refused, so no client can forge a recall, a
/// receipt, a read sync or an expansion change.
pub const SERVER_NOTICES: &[&str] = &[
    RECALL_NOTICE,
    READ_NOTICE,
    SYNC_READ_STATUS,
    RECEIPT_REQUEST,
    RECEIPT_RESPONSE,
    EXPANSION_NOTICE,
    BLOCKED_NOTICE,
    DELIVERY_NOTICE,
    DELETE_NOTICE,
];
