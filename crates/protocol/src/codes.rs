//! Error codes a [`crate::Response::code`] (or a [`crate::Kick::code`]) can
//! carry. The numbers are the vendor SDK's `ErrorCode` values, so a client can
//! hand them to applications unchanged.

/// Success.
pub const SUCCESS: i32 = 0;
/// Unexpected server failure (storage error); the request may be retried.
pub const UNKNOWN: i32 = -2;
/// The private peer has blacklisted the sender.
pub const REJECTED_BY_BLACKLIST: i32 = 405;
/// Clients cannot send into a system conversation.
pub const SYS_CONVERSATION_NOT_SUPPORT_MESSAGE: i32 = 20109;
/// More messages per second than the server's rate limit (default 5).
pub const SEND_FREQUENCY_TOO_FAST: i32 = 20604;
/// The sensitive-word filter blocked a sent message (in `SendModeration`).
pub const SENSITIVE_SHIELD: i32 = 21501;
/// The sensitive-word filter masked words of a sent message (in `SendModeration`).
pub const SENSITIVE_REPLACE: i32 = 21502;
/// The sender is not a member of the group (or the group does not exist).
pub const NOT_IN_GROUP: i32 = 22406;
/// Bad recall parameters (unknown message, mismatched conversation/time).
pub const RECALL_MESSAGE: i32 = 25101;
/// More than 20 tags.
pub const CONVERSATION_TAG_OVERSIZE: i32 = 26004;
/// A user to subscribe to already has 5000 subscribers (of that type).
pub const RC_BESUBSCRIBED_USERIDS_COUNT_EXCEED_LIMIT: i32 = 26021;
/// The subscription would take the caller past 1000 subscribed users (of that type).
pub const RC_SUBSCRIBED_USERIDS_EXCEED_LIMIT: i32 = 26022;
/// The connection is not (yet) authenticated.
pub const RC_NET_CHANNEL_INVALID: i32 = 30001;
/// Content larger than 128 KB.
pub const RC_MSG_CONTENT_EXCEED_LIMIT: i32 = 30016;
/// Unsupported protocol version.
pub const RC_CONN_PROTO_VERSION_ERROR: i32 = 31001;
/// Bad client identity (empty/oversized device id, unknown platform).
pub const RC_CONN_IDENTIFIER_REJECTED: i32 = 31002;
/// Token invalid.
pub const RC_CONN_TOKEN_INCORRECT: i32 = 31004;
/// Kicked: another device of the same platform class connected.
pub const RC_DISCONN_KICK: i32 = 31010;
/// Token expired.
pub const RC_CONN_TOKEN_EXPIRED: i32 = 31020;
/// Another device of the same platform class is online and the connect asked
/// not to kick it (`reconnect_kick_enable`).
pub const RC_DISCONN_SAME_CLIENT_ON_LINE: i32 = 31023;
/// Invalid parameter; the response `msg` names the parameter and the rule.
pub const BIZ_ERROR_INVALID_PARAMETER: i32 = 33003;
/// Tag does not exist.
pub const TAG_NOT_EXIST: i32 = 33100;
/// Tag already exists.
pub const TAG_EXISTS: i32 = 33101;
/// The conversation is not linked to that tag.
pub const NO_TAG_IN_CONVER: i32 = 33102;
/// The message does not allow expansion (or its conversation type does not).
pub const MESSAGE_KV_NOT_SUPPORT: i32 = 34008;
/// The message to expand was not found among the caller's messages.
pub const MESSAGE_EXPANDED_ERROR: i32 = 34009;
/// Expansion limits exceeded (keys, key/value length, total).
pub const EXPANSION_LIMIT_EXCEET: i32 = 34010;
/// More than 1000 conversations in one tag operation.
pub const CONVER_OUT_LIMIT_ERROR: i32 = 34013;
/// A connect request on a connection that is already authenticated.
pub const RC_CONNECTION_EXIST: i32 = 34001;
/// Conversation type not supported by this operation.
pub const CONVERSATION_TYPE_NOT_SUPPORT: i32 = 34201;
/// Request type not supported by this server.
pub const NOT_SUPPORT: i32 = 35004;
/// Blacklist add failed (self, or the 3000-entry limit).
pub const BLACK_ADD_ERROR: i32 = 37001;

/// Codes after which a client must not reconnect by itself (the seed's
/// "connection error" callbacks): it should report DISCONNECT(code) and stop.
pub const FATAL_CONNECT_CODES: &[i32] = &[
    RC_CONN_PROTO_VERSION_ERROR,
    RC_CONN_IDENTIFIER_REJECTED,
    RC_CONN_TOKEN_INCORRECT,
    RC_DISCONN_KICK,
    RC_CONN_TOKEN_EXPIRED,
    RC_DISCONN_SAME_CLIENT_ON_LINE,
];
