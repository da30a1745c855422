//! Value types shared by the store and the API layer. Numbers are the vendor SDK's
//! (ARCHITECTURE.md §4 "Values"); they are part of the public contract.

pub mod conversation_type {
    pub const PRIVATE: i64 = 1;
    pub const DISCUSSION: i64 = 2;
    pub const GROUP: i64 = 3;
    pub const CHATROOM: i64 = 4;
    pub const CUSTOMER_SERVICE: i64 = 5;
    pub const SYSTEM: i64 = 6;
    /// The vendor's official-account conversations (IMLib 5.x `ConversationType`); apps pass
    /// them in type lists, and their messages are stored like any other.
    pub const APP_PUBLIC_SERVICE: i64 = 7;
    pub const PUBLIC_SERVICE: i64 = 8;
    pub const ULTRA_GROUP: i64 = 10;

    pub const ALL: [i64; 9] = [
        PRIVATE,
        DISCUSSION,
        GROUP,
        CHATROOM,
        CUSTOMER_SERVICE,
        SYSTEM,
        APP_PUBLIC_SERVICE,
        PUBLIC_SERVICE,
        ULTRA_GROUP,
    ];
}

pub mod direction {
    pub const SEND: i64 = 1;
    pub const RECEIVE: i64 = 2;
}

pub mod sent_status {
    pub const SENDING: i64 = 10;
    pub const FAILED: i64 = 20;
    pub const SENT: i64 = 30;
    pub const RECEIVED: i64 = 40;
    pub const READ: i64 = 50;
    pub const DESTROYED: i64 = 60;
    pub const CANCELED: i64 = 70;
    pub const ALL: [i64; 7] = [SENDING, FAILED, SENT, RECEIVED, READ, DESTROYED, CANCELED];
}

/// Bit flags; several can be set at once (`IReceivedStatusInfo`).
pub mod received_status {
    pub const UNREAD: i64 = 0;
    pub const READ: i64 = 1;
    pub const LISTENED: i64 = 2;
    pub const DOWNLOADED: i64 = 4;
    pub const RETRIEVED: i64 = 8;
    pub const MULTIPLE_RECEIVE: i64 = 16;
    pub const MASK: i64 = 31;
}

pub mod notification_level {
    pub const ALL_MESSAGE: i64 = -1;
    pub const NOT_SET: i64 = 0;
    pub const NOT_MESSAGE_NOTIFICATION: i64 = 5;
}

/// Identifies one conversation. `channel` is `""` for the default channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationKey {
    pub conversation_type: i64,
    pub target_id: String,
    pub channel_id: String,
}

/// A conversation selector whose channel may be left open ("all channels"), as the search
/// calls allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationScope {
    pub conversation_type: i64,
    pub target_id: String,
    pub channel_id: Option<String>,
}

impl ConversationScope {
    pub fn exact(&self) -> ConversationKey {
        ConversationKey {
            conversation_type: self.conversation_type,
            target_id: self.target_id.clone(),
            channel_id: self.channel_id.clone().unwrap_or_default(),
        }
    }
}
