//! Result codes, with the numbers of the vendor SDK's `ErrorCode` enum so that apps written
//! against it keep working unchanged (seed-inventory §2.28).

pub const SUCCESS: i32 = 0;
pub const REJECTED_BY_BLACKLIST: i32 = 405;
pub const PROTOCOL_MESSAGE_SAVED_ERROR: i32 = 33000;
pub const CLIENT_NOT_INIT: i32 = 33001;
pub const DATABASE_ERROR: i32 = 33002;
pub const INVALID_PARAMETER: i32 = 33003;
pub const MSG_INSERT_ERROR: i32 = 33008;
pub const MESSAGE_NOT_REGISTERED: i32 = 34021;
pub const CONVERSATION_TYPE_NOT_SUPPORT: i32 = 34201;
pub const NOT_SUPPORT: i32 = 35004;
pub const MAIN_PROCESS_ERROR: i32 = 35005;
