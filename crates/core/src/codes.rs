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
/// An illegal `messageList` (sendReadReceiptResponseV2).
pub const MSG_LIMIT_ERROR: i32 = 34206;
pub const NOT_SUPPORT: i32 = 35004;
pub const MAIN_PROCESS_ERROR: i32 = 35005;
pub const DRAFT_SAVE_ERROR: i32 = 35015;
pub const DRAFT_REMOVE_ERROR: i32 = 35016;
pub const CONVERSATION_REMOVE_ERROR: i32 = 35020;
pub const CONVERSATION_GET_ERROR: i32 = 35021;
/// registerMessageType's `searchProps` do not fit the message type.
pub const SEARCH_PROPS_LIMIT_ERROR: i32 = 35022;
pub const DRAFT_GET_ERROR: i32 = 38001;

// imsync's own codes, for database states the vendor SDK has no code for. They sit in a
// range the vendor's `ErrorCode` table leaves unused (33201…), so no vendor code is reused
// with another meaning; `js/renderer.js` names them in `ErrorCode`.

/// The database file is damaged (SQLite reported corruption): writes are refused until the
/// app calls `recoverDatabase()`, which moves the file aside and starts a fresh one that the
/// sync engine refills from the server.
pub const DATABASE_CORRUPT: i32 = 33201;
/// The disk is full: the database is open read-only; reads work, writes are refused until
/// space is freed (the next write retries the writer).
pub const DATABASE_DISK_FULL: i32 = 33202;
/// The database is encrypted and `encryptionKey` is missing or wrong; nothing was touched.
pub const DATABASE_KEY_INVALID: i32 = 33203;
/// `recoverDatabase` found nothing to recover: the database is intact (a full check found no
/// damage) or there is none. Nothing was moved.
pub const DATABASE_NOTHING_TO_RECOVER: i32 = 33204;
/// `rekey` on a plain database: `encryptDatabase(key)` is the call that encrypts it.
pub const DATABASE_NOT_ENCRYPTED: i32 = 33205;
/// `encryptDatabase` on an encrypted database: `rekey(newKey)` is the call that changes its key.
pub const DATABASE_ALREADY_ENCRYPTED: i32 = 33206;

/// An upload failed, was refused by the server or was cancelled (the vendor's UPLOAD_FAIL);
/// the message stays FAILED and a resend uploads again.
pub const UPLOAD_FAIL: i32 = 34011;
/// A media download failed or was cancelled (imsync's own: the vendor's web SDK leaves
/// downloading to the browser). The partial file is kept, so calling again resumes.
pub const DOWNLOAD_FAIL: i32 = 33210;
