//! Frame codec: round trips, the size limit, and a bounded fuzz run of the
//! decoder (it must return Ok or Err for any input, never panic).

use imsync_protocol::prost::Message as _;
use imsync_protocol::*;
use proptest::prelude::*;

fn sample_frames() -> Vec<Frame> {
    let mut expansion = std::collections::BTreeMap::new();
    expansion.insert("k".to_string(), "v".to_string());
    vec![
        Frame::ping(1, 42),
        Frame::request(
            2,
            request::Op::Connect(ConnectRequest {
                protocol_version: PROTOCOL_VERSION,
                token: "t".into(),
                device_id: "d".into(),
                platform: Platform::Desktop as i32,
                sdk_version: "1".into(),
                reconnect_kick_enable: true,
            }),
        ),
        Frame::request(
            3,
            request::Op::SendMessage(SendMessageRequest {
                client_msg_id: "c".into(),
                conversation: Some(Conversation::new(ConversationType::Group, "g")),
                object_name: object_names::TEXT.into(),
                content: "{\"content\":\"héllo\"}".into(),
                is_persisted: true,
                directed_user_ids: vec!["a".into()],
                can_include_expansion: true,
                expansion,
                ..Default::default()
            }),
        ),
        Frame::response(3, Response::error(codes::NOT_IN_GROUP, "no")),
        Frame::response(
            4,
            Response::ok(response::Body::PullInbox(PullInboxResult {
                entries: vec![InboxEntry {
                    seq: 9,
                    message: Some(Message {
                        message_uid: "U".into(),
                        direction: MessageDirection::Send as i32,
                        ..Default::default()
                    }),
                }],
                has_more: true,
                head_seq: 10,
                min_seq: 1,
            })),
        ),
        Frame::push(push::Event::Kick(Kick {
            code: codes::RC_DISCONN_KICK,
            reason: "r".into(),
        })),
    ]
}

#[test]
fn frames_round_trip() {
    for frame in sample_frames() {
        let bytes = encode_frame(&frame).unwrap();
        assert_eq!(decode_frame(&bytes).unwrap(), frame);
    }
}

#[test]
fn size_limit_applies_both_ways() {
    let req = SendMessageRequest {
        content: "x".repeat(MAX_FRAME_BYTES),
        ..Default::default()
    };
    let frame = Frame::request(1, request::Op::SendMessage(req));
    assert!(matches!(
        encode_frame(&frame),
        Err(FrameError::TooLarge { .. })
    ));
    let bytes = frame.encode_to_vec();
    assert!(matches!(
        decode_frame(&bytes),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn unknown_fields_are_ignored() {
    // A frame from a newer peer: known id, plus field 99 (varint) and an
    // unknown oneof member 15 (length-delimited).
    let mut bytes = Frame::ping(7, 1).encode_to_vec();
    bytes.extend_from_slice(&[0x98, 0x06, 0x01]); // field 99, varint 1
    let frame = decode_frame(&bytes).unwrap();
    assert_eq!(frame.id, 7);
    let newer = [0x08, 0x05, 0x7a, 0x00]; // id 5, field 15 (len 0)
    let frame = decode_frame(&newer).unwrap();
    assert_eq!(frame.id, 5);
    assert!(frame.kind.is_none());
}

#[test]
fn truncated_frames_are_errors() {
    for frame in sample_frames() {
        let bytes = encode_frame(&frame).unwrap();
        for cut in 1..bytes.len() {
            // Must not panic; most prefixes are errors.
            let _ = decode_frame(&bytes[..cut]);
        }
    }
    assert!(decode_frame(&[0x12, 0x05, 0x01]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decoder_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_frame(&bytes);
    }

    #[test]
    fn decoder_never_panics_on_mutated_frames(
        which in 0usize..6,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = encode_frame(&sample_frames()[which]).unwrap();
        for (pos, val) in flips {
            let i = pos % bytes.len();
            bytes[i] = val;
        }
        if let Ok(frame) = decode_frame(&bytes) {
            // Whatever decodes re-encodes within the limit.
            prop_assert!(encode_frame(&frame).is_ok());
        }
    }

    #[test]
    fn ids_and_text_round_trip(id in any::<u64>(), text in ".{0,64}") {
        let frame = Frame::response(id, Response::error(codes::UNKNOWN, text));
        let bytes = encode_frame(&frame).unwrap();
        prop_assert_eq!(decode_frame(&bytes).unwrap(), frame);
    }
}
