//! The shared store suite (issue 14): every check runs the same store code on SQLite and
//! on a throwaway PostgreSQL, through `store::sql::Db`. Store modules join the suite as
//! they move onto `Db`.

use imsync_server::args;
use imsync_server::store::sql::{Db, PgDb};
use imsync_server::store::{groups, pg_schema, schema};

use crate::common::postgres::Postgres;

/// Runs `check` on a fresh SQLite database, then (when PostgreSQL is installed, always
/// under CI) on a fresh PostgreSQL database, both at the current schema.
fn on_both_backends(test: &str, check: impl Fn(&dyn Db)) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    schema::prepare(&mut conn, true).unwrap();
    check(&conn);

    let Some(pg) = Postgres::start(test) else {
        return;
    };
    let db = PgDb::connect(&pg.create_database("suite")).unwrap();
    pg_schema::migrate(&db).unwrap();
    check(&db);
}

#[test]
fn values_cross_both_engines_unchanged() {
    on_both_backends("store values", |db| {
        db.execute(
            "INSERT INTO messages (uid, sender, conv_type, target, channel, sent_time, object_name, body, recalled_by)
             VALUES (?1, ?2, 1, ?3, '', ?4, 'RC:TxtMsg', ?5, ?6)",
            args!["u1", "发送者 🙂", "bob", i64::MAX, vec![0u8, 255, 0, 7], Option::<i64>::None],
        )
        .unwrap();
        let (sender, time, body, recalled): (String, i64, Vec<u8>, Option<i64>) = db
            .one(
                "SELECT sender, sent_time, body, recalled_by FROM messages WHERE uid = ?1",
                args!["u1"],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(sender, "发送者 🙂");
        assert_eq!(time, i64::MAX);
        assert_eq!(body, vec![0u8, 255, 0, 7]);
        assert_eq!(recalled, None);
        assert_eq!(
            db.optional(
                "SELECT uid FROM messages WHERE uid = ?1",
                args!["nope"],
                |r| r.get::<String>(0)
            )
            .unwrap(),
            None
        );
        // INSERT OR IGNORE (rewritten for PostgreSQL) and RETURNING.
        let ignored = db
            .execute(
                "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?1, ?2)",
                args!["alice", 1],
            )
            .unwrap();
        assert_eq!(ignored, 1);
        assert_eq!(
            db.execute(
                "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?1, ?2)",
                args!["alice", 2],
            )
            .unwrap(),
            0
        );
        let seq: i64 = db
            .one(
                "INSERT INTO inbox_heads (user_id, last_seq) VALUES (?1, 1)
                 ON CONFLICT(user_id) DO UPDATE SET last_seq = inbox_heads.last_seq + 1 RETURNING last_seq",
                args!["alice"],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(seq, 1);
        let count: i64 = db
            .one("SELECT count(*) FROM users", &[], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
        // A statement the engine rejects is an error, not a panic.
        assert!(db
            .execute("INSERT INTO no_such_table VALUES (?1)", args![1])
            .is_err());
    });
}

#[test]
fn groups_keep_their_contract_on_both_engines() {
    on_both_backends("store groups", |db| {
        let members = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!groups::exists(db, "g1").unwrap());
        groups::create_or_join(
            db,
            "g1",
            Some("Team"),
            &members(&["carol", "Bob", "alice"]),
            0,
            10,
        )
        .unwrap();
        // Byte order on both engines (upper case first), as SQLite compares.
        assert_eq!(
            groups::members(db, "g1").unwrap(),
            members(&["Bob", "alice", "carol"])
        );
        groups::create_or_join(db, "g1", None, &members(&["alice", "dave"]), 0, 20).unwrap();
        let (name, joined): (String, i64) = db
            .one(
                "SELECT g.name, m.joined_at FROM groups g JOIN group_members m ON m.group_id = g.group_id
                 WHERE g.group_id = ?1 AND m.user_id = ?2",
                args!["g1", "alice"],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(name, "Team", "a join without a name keeps the name");
        assert_eq!(joined, 10, "a member joining again keeps the join time");
        assert!(groups::is_member(db, "g1", "dave").unwrap());
        groups::quit(db, "g1", &members(&["dave", "nobody"]), 30).unwrap();
        assert!(!groups::is_member(db, "g1", "dave").unwrap());
        assert!(groups::exists(db, "g1").unwrap());
        assert!(groups::dismiss(db, "g1", 40).unwrap().value);
        assert!(!groups::dismiss(db, "g1", 40).unwrap().value);
        assert!(groups::members(db, "g1").unwrap().is_empty());

        groups::upsert_user(db, "alice", Some("Alice"), None, 1).unwrap();
        groups::upsert_user(db, "alice", None, Some("p.png"), 2).unwrap();
        let user: (String, String, i64) = db
            .one(
                "SELECT name, portrait, created_at FROM users WHERE user_id = ?1",
                args!["alice"],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(user, ("Alice".into(), "p.png".into(), 1));
    });
}

#[test]
fn postgres_migrations_run_from_empty_from_the_previous_version_and_concurrently() {
    let Some(pg) = Postgres::start("postgres migrations") else {
        return;
    };
    let last = pg_schema::MIGRATIONS.len();

    // From empty, then again (nothing to do).
    let db = PgDb::connect(&pg.create_database("fresh")).unwrap();
    pg_schema::migrate(&db).unwrap();
    assert_eq!(pg_schema::version(&db).unwrap(), last as i64);
    pg_schema::migrate(&db).unwrap();
    assert_eq!(pg_schema::version(&db).unwrap(), last as i64);

    // From the previous version, with data in it.
    let db = PgDb::connect(&pg.create_database("previous")).unwrap();
    pg_schema::migrate_to(&db, last - 1).unwrap();
    assert_eq!(pg_schema::version(&db).unwrap(), last as i64 - 1);
    // (Raw SQL: today's store functions expect today's schema.)
    db.execute(
        "INSERT INTO groups (group_id, name, created_at) VALUES ('g', '', 1)",
        &[],
    )
    .unwrap();
    db.execute(
        "INSERT INTO group_members (group_id, user_id, joined_at) VALUES ('g', 'a', 1)",
        &[],
    )
    .unwrap();
    pg_schema::migrate(&db).unwrap();
    assert_eq!(pg_schema::version(&db).unwrap(), last as i64);
    assert_eq!(groups::members(&db, "g").unwrap(), vec!["a".to_string()]);

    // A database from a newer server is refused and left as it is.
    db.batch("INSERT INTO schema_migrations VALUES (9999, 0)")
        .unwrap();
    let err = pg_schema::migrate(&db).unwrap_err();
    assert!(err.contains("newer than this server"), "{err}");
    assert_eq!(pg_schema::version(&db).unwrap(), 9999);

    // Nodes starting together: each migration applied once, every node ready.
    let url = pg.create_database("together");
    let nodes: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let db = PgDb::connect(&url).unwrap();
                pg_schema::migrate(&db).map(|()| pg_schema::version(&db).unwrap())
            })
        })
        .collect();
    for n in nodes {
        assert_eq!(n.join().unwrap(), Ok(last as i64));
    }
    let db = PgDb::connect(&url).unwrap();
    let applied: i64 = (&db as &dyn Db)
        .one("SELECT count(*) FROM schema_migrations", &[], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, last as i64);
}

#[test]
fn retention_sweeps_only_what_is_past_the_cutoff_on_both_engines() {
    use imsync_server::store::retention;
    on_both_backends("store retention", |db| {
        for (uid, sent) in [("old", 100_i64), ("new", 900)] {
            db.execute(
                "INSERT INTO messages (uid, sender, conv_type, target, channel, sent_time, object_name, body)
                 VALUES (?1, 'alice', 1, 'bob', '', ?2, 'RC:TxtMsg', ?3)",
                args![uid, sent, vec![1u8]],
            )
            .unwrap();
        }
        let id = |uid: &str| -> i64 {
            db.one("SELECT id FROM messages WHERE uid = ?1", args![uid], |r| {
                r.get(0)
            })
            .unwrap()
        };
        for (seq, uid, created) in [(1_i64, "old", 100_i64), (2, "new", 900)] {
            db.execute(
                "INSERT INTO inbox (user_id, seq, message_id, created_at) VALUES ('bob', ?1, ?2, ?3)",
                args![seq, id(uid), created],
            )
            .unwrap();
        }
        // Entry, then its message, then nothing more.
        assert_eq!(retention::sweep_chunk(db, 500).unwrap(), 2);
        assert_eq!(retention::sweep_chunk(db, 500).unwrap(), 0);
        let left: Vec<String> = db
            .all(
                "SELECT m.uid FROM inbox i JOIN messages m ON m.id = i.message_id",
                &[],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, vec!["new".to_string()]);

        let now = 10_000_000;
        assert!(retention::record_nonce(db, "n1", now, now).unwrap());
        assert!(
            !retention::record_nonce(db, "n1", now, now).unwrap(),
            "a replay"
        );
        assert!(retention::record_nonce(db, "n2", now, now).unwrap());
    });
}

#[test]
fn media_uploads_complete_into_files_and_age_out_on_both_engines() {
    use imsync_server::store::media::{self, Described, File, Upload};
    let upload = |id: &str, created_at: i64| Upload {
        id: id.into(),
        owner: "alice".into(),
        described: Described {
            name: "a.png".into(),
            mime: "image/png".into(),
            disposition: "inline".into(),
        },
        length: 10,
        created_at,
        file_id: None,
    };
    on_both_backends("store media", |db| {
        media::insert_upload(db, &upload("u1", 100)).unwrap();
        media::insert_upload(db, &upload("u2", 200)).unwrap();
        media::insert_upload(db, &upload("u3", 300)).unwrap();
        assert_eq!(media::upload(db, "u1").unwrap(), Some(upload("u1", 100)));
        assert_eq!(media::upload(db, "nope").unwrap(), None);

        let f = File {
            id: "f1".into(),
            owner: "alice".into(),
            described: upload("u2", 0).described,
            size: 10,
            created_at: 250,
        };
        media::complete(db, "u2", &f).unwrap();
        assert_eq!(media::file(db, "f1").unwrap(), Some(f.clone()));
        assert_eq!(
            media::upload(db, "u2").unwrap().unwrap().file_id.as_deref(),
            Some("f1")
        );
        // Completing an upload that is gone is refused.
        let f2 = File {
            id: "f2".into(),
            ..f
        };
        assert!(media::complete(db, "gone", &f2).is_err());

        assert_eq!(
            media::created_before(db, 300, 10).unwrap(),
            vec![("u1".to_owned(), false), ("u2".to_owned(), true)]
        );
        assert_eq!(media::created_before(db, 300, 1).unwrap().len(), 1);
        media::delete_upload(db, "u1").unwrap();
        assert_eq!(media::upload(db, "u1").unwrap(), None);
        // The file outlives its upload row.
        media::delete_upload(db, "u2").unwrap();
        assert!(media::file(db, "f1").unwrap().is_some());
    });
}

#[test]
fn chatroom_entries_keep_ownership_limits_and_auto_delete_on_both_engines() {
    use imsync_protocol::chatroom_rules as rules;
    use imsync_protocol::ChatroomEntry;
    use imsync_server::store::chatroom_entries::{drop_rooms, get, remove, remove_auto, set};
    let entry = |key: &str, value: &str, auto_delete: bool| ChatroomEntry {
        key: key.into(),
        value: value.into(),
        auto_delete,
        ..Default::default()
    };
    on_both_backends("store chatroom entries", |c| {
        set(
            c,
            "r",
            "alice",
            &[entry("a", "1", true), entry("b", "2", false)],
            false,
            1,
        )
        .unwrap();
        let e = set(c, "r", "bob", &[entry("a", "x", false)], false, 2).unwrap_err();
        assert_eq!(e.code, rules::KV_OVERWRITE_INVALID);
        set(c, "r", "bob", &[entry("b", "3", false)], true, 3).unwrap();
        let b = &get(c, "r", &["b".into()]).unwrap()[0];
        assert_eq!(
            (b.owner.as_str(), b.value.as_str(), b.timestamp),
            ("bob", "3", 3)
        );
        assert!(get(c, "r", &["a".into()]).unwrap()[0].auto_delete);
        assert_eq!(
            remove(c, "r", "alice", &["b".into()], false)
                .unwrap_err()
                .code,
            rules::KV_OVERWRITE_INVALID
        );
        assert_eq!(
            remove(c, "r", "alice", &["zz".into()], false)
                .unwrap_err()
                .code,
            rules::KEY_NOT_EXIST
        );
        // 100 entries at most, counted before anything is written.
        let many: Vec<ChatroomEntry> = (0..98)
            .map(|i| entry(&format!("k{i}"), "v", false))
            .collect();
        set(c, "r", "carol", &many, false, 4).unwrap();
        let e = set(c, "r", "carol", &[entry("x1", "v", false)], false, 5).unwrap_err();
        assert_eq!(e.code, rules::KV_EXCEED);
        assert_eq!(get(c, "r", &[]).unwrap().len(), 100);
        assert_eq!(
            remove_auto(c, "r", &["alice".into()]).unwrap(),
            vec!["a".to_string()]
        );
        assert_eq!(get(c, "r", &[]).unwrap().len(), 99);
        drop_rooms(c, &["r".into()]).unwrap();
        assert!(get(c, "r", &[]).unwrap().is_empty());
    });
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn subscriptions_renew_list_expire_and_unsubscribe_on_both_engines() {
    use imsync_server::store::subscriptions::{get, list, subscribe, subscribers, unsubscribe};
    on_both_backends("store subscriptions", |c| {
        subscribe(c, "bob", 1, &ids(&["alice", "carol"]), 60, 1_000).unwrap();
        assert_eq!(subscribers(c, "alice", 1, 1_000).unwrap(), ids(&["bob"]));
        assert!(subscribers(c, "alice", 2, 1_000).unwrap().is_empty());
        let (page, more) = list(c, "bob", 1, 0, 1, 1_000).unwrap();
        assert_eq!((page[0].target.as_str(), more), ("alice", true));
        // Expired: neither listed nor notified.
        assert!(subscribers(c, "alice", 1, 61_000).unwrap().is_empty());
        assert!(get(c, "bob", 1, &ids(&["alice"]), 61_000)
            .unwrap()
            .is_empty());
        // Renewed.
        subscribe(c, "bob", 1, &ids(&["alice"]), 120, 50_000).unwrap();
        let got = get(c, "bob", 1, &ids(&["carol", "alice"]), 61_000).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].subscribed_at, got[0].expiry_secs), (50_000, 120));
        assert_eq!(
            unsubscribe(c, "bob", 1, &ids(&["alice", "x"]), 61_000).unwrap(),
            ids(&["alice"])
        );
        assert!(subscribers(c, "alice", 1, 61_000).unwrap().is_empty());
    });
}

#[test]
fn subscription_limits_refuse_the_whole_call_on_both_engines() {
    use imsync_protocol::codes;
    use imsync_protocol::presence_rules::{MAX_SUBSCRIBED, MAX_SUBSCRIBERS};
    use imsync_server::store::subscriptions::{get, subscribe};
    on_both_backends("store subscription limits", |c| {
        let many: Vec<String> = (0..MAX_SUBSCRIBED).map(|i| format!("u{i}")).collect();
        for chunk in many.chunks(200) {
            subscribe(c, "bob", 1, chunk, 600, 1).unwrap();
        }
        // Renewing is not growing.
        subscribe(c, "bob", 1, &many[..200], 600, 2).unwrap();
        let e = subscribe(c, "bob", 1, &ids(&["u0", "new"]), 600, 3).unwrap_err();
        assert_eq!(e.code, codes::RC_SUBSCRIBED_USERIDS_EXCEED_LIMIT);
        assert!(get(c, "bob", 1, &ids(&["new"]), 3).unwrap().is_empty());
        // Another type has its own count.
        subscribe(c, "bob", 2, &ids(&["new"]), 600, 3).unwrap();

        for i in 0..MAX_SUBSCRIBERS {
            subscribe(c, &format!("fan{i}"), 1, &ids(&["star"]), 600, 1).unwrap();
        }
        let e = subscribe(c, "carol", 1, &ids(&["dave", "star"]), 600, 2).unwrap_err();
        assert_eq!(e.code, codes::RC_BESUBSCRIBED_USERIDS_COUNT_EXCEED_LIMIT);
        assert!(e.msg.contains("star"), "{}", e.msg);
        assert!(
            get(c, "carol", 1, &ids(&["dave"]), 2).unwrap().is_empty(),
            "nothing changed"
        );
    });
}

#[test]
fn settings_blacklist_pins_and_tags_on_both_engines() {
    use imsync_protocol::{
        codes, tag_request::Op, Conversation, ConversationTags, Tag, TagConversations, TagTop,
        MAX_CONVERSATIONS_PER_TAG,
    };
    use imsync_server::store::settings;
    let private = |t: &str| Conversation {
        r#type: 1,
        target_id: t.into(),
        channel_id: String::new(),
    };
    let tag = |id: &str, name: &str| Tag {
        tag_id: id.into(),
        tag_name: name.into(),
        created_time: 0,
    };
    on_both_backends("store settings", |c| {
        // Blacklist: idempotent add, sorted list, self refused, remove.
        settings::blacklist_add(c, "alice", "mallory", 1).unwrap();
        settings::blacklist_add(c, "alice", "eve", 2).unwrap();
        settings::blacklist_add(c, "alice", "eve", 3).unwrap();
        assert_eq!(
            settings::blacklist(c, "alice").unwrap(),
            ids(&["eve", "mallory"])
        );
        assert!(settings::is_blocked(c, "alice", "eve").unwrap());
        assert_eq!(
            settings::blacklist_add(c, "alice", "alice", 4)
                .unwrap_err()
                .code,
            codes::BLACK_ADD_ERROR
        );
        settings::blacklist_remove(c, "alice", "eve").unwrap();
        assert!(!settings::is_blocked(c, "alice", "eve").unwrap());

        // Versions and pins: a partial change keeps the other field.
        assert_eq!(settings::version(c, "alice").unwrap(), 0);
        assert_eq!(settings::bump_version(c, "alice").unwrap(), 1);
        assert_eq!(settings::bump_version(c, "alice").unwrap(), 2);
        settings::set_conversation(c, "alice", Some(&private("bob")), Some(true), None, 10)
            .unwrap();
        settings::set_conversation(c, "alice", Some(&private("bob")), None, Some(5), 11).unwrap();
        assert!(
            settings::set_conversation(c, "alice", Some(&private("bob")), None, Some(3), 12)
                .is_err()
        );

        // Tags.
        let op = |o: Op| settings::apply_tag(c, "alice", &o, 20);
        op(Op::AddTag(tag("work", "Work"))).unwrap();
        assert_eq!(
            op(Op::AddTag(tag("work", "W"))).unwrap_err().code,
            codes::TAG_EXISTS
        );
        op(Op::UpdateTag(tag("work", "Office"))).unwrap();
        op(Op::AddTag(tag("home", "Home"))).unwrap();
        assert_eq!(
            op(Op::RemoveTag("nope".into())).unwrap_err().code,
            codes::TAG_NOT_EXIST
        );
        // A tag keeps its newest 1,000 conversations: the first tagged go.
        let convs: Vec<Conversation> = (0..MAX_CONVERSATIONS_PER_TAG)
            .map(|i| private(&format!("u{i:04}")))
            .collect();
        op(Op::AddConversations(TagConversations {
            tag_id: "work".into(),
            conversations: convs,
        }))
        .unwrap();
        op(Op::AddConversations(TagConversations {
            tag_id: "work".into(),
            conversations: vec![private("late1"), private("late2"), private("u0005")],
        }))
        .unwrap();
        op(Op::AddConversations(TagConversations {
            tag_id: "home".into(),
            conversations: vec![private("bob")],
        }))
        .unwrap();
        op(Op::SetTopInTag(TagTop {
            tag_id: "home".into(),
            conversation: Some(private("bob")),
            is_top: true,
        }))
        .unwrap();
        assert_eq!(
            op(Op::SetTopInTag(TagTop {
                tag_id: "home".into(),
                conversation: Some(private("zed")),
                is_top: true
            }))
            .unwrap_err()
            .code,
            codes::NO_TAG_IN_CONVER
        );
        op(Op::RemoveConversations(TagConversations {
            tag_id: "work".into(),
            conversations: vec![private("late2")],
        }))
        .unwrap();
        op(Op::RemoveTagsFromConversation(ConversationTags {
            conversation: Some(private("u0999")),
            tag_ids: ids(&["work"]),
        }))
        .unwrap();

        let snap = settings::snapshot(c, "alice").unwrap();
        assert_eq!(snap.version, 2);
        assert_eq!(snap.conversations.len(), 1);
        let pin = &snap.conversations[0];
        assert_eq!(
            (pin.is_top, pin.notification_level, pin.updated_time),
            (true, 5, 11)
        );
        let names: Vec<(&str, &str)> = snap
            .tags
            .iter()
            .map(|t| (t.tag_id.as_str(), t.tag_name.as_str()))
            .collect();
        assert_eq!(names, vec![("home", "Home"), ("work", "Office")]);
        let work: Vec<&str> = snap
            .tag_links
            .iter()
            .filter(|l| l.tag_id == "work")
            .map(|l| l.conversation.as_ref().unwrap().target_id.as_str())
            .collect();
        // 1,000 + 2 new tagged: u0000 and u0001 evicted; then late2 and u0999 removed.
        assert_eq!(work.len(), MAX_CONVERSATIONS_PER_TAG - 2);
        assert_eq!(work.first(), Some(&"u0002"), "tagging order is kept");
        assert_eq!(work.last(), Some(&"late1"));
        assert!(!work.contains(&"u0999") && !work.contains(&"late2"));
        let home = snap.tag_links.iter().find(|l| l.tag_id == "home").unwrap();
        assert!(home.is_top);
        assert_eq!(snap.tag_links[0].tag_id, "home", "links by tag id");
    });
}

mod profiles_on_both {
    //! Hosted profiles (moved from the module's unit tests).
    use imsync_protocol::codes;
    use imsync_protocol::profile_rules::{visibility, MAX_PROFILE_IDS};
    use imsync_protocol::{UpdateProfileRequest, UserProfile};
    use imsync_server::args;
    use imsync_server::error::ApiError;
    use imsync_server::fanout::Delivery;
    use imsync_server::store::profiles::*;
    use imsync_server::store::sql::Db;

    use super::on_both_backends;

    fn seed_users(c: &dyn Db) {
        for u in ["alice", "bob", "carol"] {
            c.execute(
                "INSERT INTO users (user_id, created_at) VALUES (?1, 1)",
                args![u],
            )
            .unwrap();
        }
    }

    fn reader(id: &str) -> Viewer<'_> {
        Viewer::User {
            id,
            default_visibility: DEFAULT_VISIBILITY,
        }
    }

    fn get_for(c: &dyn Db, id: &str, ids: &[String]) -> Result<Vec<UserProfile>, ApiError> {
        get(c, reader(id), ids, MAX_PROFILE_IDS)
    }

    fn owner(session: &str) -> Editor {
        Editor::Owner {
            session: session.into(),
        }
    }

    fn full() -> UpdateProfileRequest {
        let mut req = UpdateProfileRequest {
            name: Some("Alice".into()),
            portrait_uri: Some("https://p/a.png".into()),
            email: Some("a@example.com".into()),
            birthday: Some("2000-01-01".into()),
            gender: Some(2),
            location: Some("Berlin".into()),
            role: Some(7),
            level: Some(100),
            ..Default::default()
        };
        req.ext.insert("ext_team".into(), "blue".into());
        req
    }

    fn row_count(c: &dyn Db) -> i64 {
        c.one("SELECT COUNT(*) FROM user_profiles", &[], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn profiles_visibility_decides_what_others_see() {
        on_both_backends("store profiles visibility_decides_what_others_see", |c| {
            seed_users(c);
            let out = update(c, "alice", &full(), "extraProfile", owner("s1"), 10).unwrap();
            assert_eq!(out.value.name, "Alice");
            match &out.deliveries[..] {
                [Delivery::OwnProfile {
                    user,
                    except_session,
                    profile,
                }] => {
                    assert_eq!(user, "alice");
                    assert_eq!(except_session.as_deref(), Some("s1"));
                    assert_eq!(profile.email, "a@example.com");
                }
                other => panic!("unexpected deliveries {other:?}"),
            }
            let ids = vec![
                "alice".to_string(),
                "nobody".to_string(),
                "alice".to_string(),
            ];
            // NOT_SET: the default (INVISIBLE) applies: name and portrait only.
            let seen = get_for(c, "bob", &ids).unwrap();
            assert_eq!(
                seen.len(),
                1,
                "unknown users are left out, repeats answered once"
            );
            assert!(seen[0].restricted);
            assert_eq!(
                (seen[0].name.as_str(), seen[0].email.as_str(), seen[0].role),
                ("Alice", "", 0)
            );
            // A server configured with `--profile-visibility everyone` opens NOT_SET profiles.
            let open_default = Viewer::User {
                id: "bob",
                default_visibility: visibility::EVERYONE,
            };
            assert!(!get(c, open_default, &ids, MAX_PROFILE_IDS).unwrap()[0].restricted);
            set_visibility(c, "alice", visibility::EVERYONE, 11).unwrap();
            let seen = get_for(c, "bob", &ids).unwrap();
            assert!(!seen[0].restricted);
            assert_eq!(
                seen[0].ext.get("ext_team").map(String::as_str),
                Some("blue")
            );
            set_visibility(c, "alice", visibility::INVISIBLE, 12).unwrap();
            assert!(get_for(c, "carol", &ids).unwrap()[0].restricted);
            // The owner always sees everything.
            assert!(!get_for(c, "alice", &ids).unwrap()[0].restricted);
            assert_eq!(visibility(c, "alice").unwrap(), visibility::INVISIBLE);
            assert_eq!(visibility(c, "bob").unwrap(), visibility::NOT_SET);
            // Setting the visibility kept the profile.
            assert_eq!(own(c, "alice").unwrap().level, 100);
        });
    }

    #[test]
    fn profiles_bad_input_changes_nothing() {
        on_both_backends("store profiles bad_input_changes_nothing", |c| {
            seed_users(c);
            update(c, "alice", &full(), "extraProfile", owner("s1"), 10).unwrap();
            let before = own(c, "alice").unwrap();
            let long_name = UpdateProfileRequest {
                name: Some("n".repeat(33)),
                ..Default::default()
            };
            let mut too_many = UpdateProfileRequest::default();
            for i in 0..20 {
                too_many.ext.insert(format!("k{i}"), "v".into());
            }
            let unique = UpdateProfileRequest {
                unique_id: Some("Mine01".into()),
                ..Default::default()
            };
            for (req, field) in [
                (long_name, "name"),
                (too_many, "extraProfile"),
                (unique, "uniqueId"),
                (UpdateProfileRequest::default(), "profile"),
            ] {
                let e = update(c, "alice", &req, "extraProfile", owner("s1"), 20)
                    .err()
                    .unwrap();
                assert_eq!(e.code, codes::BIZ_ERROR_INVALID_PARAMETER);
                assert!(e.msg.contains(field), "{field}: {}", e.msg);
            }
            assert_eq!(own(c, "alice").unwrap(), before);
            let e = set_visibility(c, "alice", 3, 20).err().unwrap();
            assert_eq!(e.code, codes::BIZ_ERROR_INVALID_PARAMETER);
            let ids: Vec<String> = (0..21).map(|i| format!("u{i}")).collect();
            assert!(get_for(c, "bob", &ids).is_err());
            assert!(get_for(c, "bob", &[]).is_err());
            assert!(search(c, reader("bob"), "not-alnum").is_err());
        });
    }

    #[test]
    fn profiles_unique_ids_belong_to_one_user_and_are_searchable() {
        on_both_backends(
            "store profiles unique_ids_belong_to_one_user_and_are_searchable",
            |c| {
                seed_users(c);
                let set = |u: &str| UpdateProfileRequest {
                    unique_id: Some(u.into()),
                    name: Some("x".into()),
                    ..Default::default()
                };
                update(c, "alice", &set("Alice01"), "ext", Editor::AppServer, 1).unwrap();
                let e = update(c, "bob", &set("Alice01"), "ext", Editor::AppServer, 2)
                    .err()
                    .unwrap();
                assert!(e.msg.contains("another user"), "{}", e.msg);
                assert_eq!(row_count(c), 1, "bob's refused profile was not written");
                // The owner may send its uniqueId back unchanged.
                update(c, "alice", &set("Alice01"), "ext", owner("s"), 3).unwrap();
                let found = search(c, reader("bob"), "Alice01").unwrap().unwrap();
                assert_eq!((found.user_id.as_str(), found.restricted), ("alice", true));
                assert_eq!(found.unique_id, "", "a restricted view hides the uniqueId");
                assert_eq!(search(c, reader("bob"), "Nobody").unwrap(), None);
                // An empty extension value removes the key; the app server sees everything.
                let mut ext = UpdateProfileRequest::default();
                ext.ext.insert("a".into(), "1".into());
                update(c, "alice", &ext, "ext", Editor::AppServer, 4).unwrap();
                ext.ext.insert("a".into(), String::new());
                update(c, "alice", &ext, "ext", Editor::AppServer, 5).unwrap();
                let all = get(c, Viewer::AppServer, &["alice".into()], 100).unwrap();
                assert_eq!(
                    (all[0].unique_id.as_str(), all[0].ext.len()),
                    ("Alice01", 0)
                );
                assert!(all[0].updated_time >= 5);
            },
        );
    }
}

#[test]
fn a_postgres_transaction_never_reports_a_commit_it_did_not_make() {
    let Some(pg) = Postgres::start("postgres transactions") else {
        return;
    };
    let db = PgDb::connect(&pg.create_database("tx")).unwrap();
    assert_eq!(pg_schema::version(&db).unwrap(), 0, "an empty database");
    pg_schema::migrate(&db).unwrap();
    let count = |db: &PgDb| -> i64 {
        (db as &dyn Db)
            .one("SELECT count(*) FROM users", &[], |r| r.get(0))
            .unwrap()
    };
    // A failure the closure ignores still rolls the whole transaction back.
    let r = db.transaction(|tx| {
        tx.execute(
            "INSERT INTO users (user_id, created_at) VALUES (?1, 1)",
            args!["a"],
        )?;
        let _ = tx.execute("INSERT INTO no_such_table VALUES (?1)", args![1]);
        Ok(())
    });
    assert!(r.is_err());
    assert_eq!(count(&db), 0);
    // Not nested; the connection is usable afterwards, also after a panic inside.
    assert!(db.transaction(|tx| tx.transaction(|_| Ok(()))).is_err());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = db.transaction(|tx| -> Result<(), imsync_server::error::ApiError> {
            tx.execute(
                "INSERT INTO users (user_id, created_at) VALUES (?1, 1)",
                args!["b"],
            )?;
            panic!("a bug in a job");
        });
    }));
    assert!(panicked.is_err());
    db.transaction(|tx| {
        tx.execute(
            "INSERT INTO users (user_id, created_at) VALUES (?1, 1)",
            args!["c"],
        )
        .map(|_| ())
    })
    .unwrap();
    assert_eq!(count(&db), 1, "only the committed transaction's row");
    // A value of the wrong type is refused, not sent as raw bytes.
    let d: &dyn Db = &db;
    assert!(d
        .execute(
            "INSERT INTO users (user_id, created_at) VALUES (?1, ?2)",
            args!["d", "12345678"],
        )
        .is_err());
}

#[test]
fn a_scan_stops_where_its_reader_stops_on_both_engines() {
    use std::ops::ControlFlow;
    on_both_backends("store early stop", |db| {
        for u in ["a", "b", "c", "d"] {
            db.execute(
                "INSERT INTO users (user_id, created_at) VALUES (?1, 1)",
                args![u],
            )
            .unwrap();
        }
        let first: Option<String> = db
            .optional("SELECT user_id FROM users ORDER BY user_id", &[], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(first.as_deref(), Some("a"));
        let mut seen = Vec::new();
        db.for_each(
            "SELECT user_id FROM users ORDER BY user_id DESC",
            &[],
            &mut |r| {
                seen.push(r.get::<String>(0)?);
                Ok(if seen.len() == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            },
        )
        .unwrap();
        assert_eq!(seen, ids(&["d", "c"]));
        // DELETE … RETURNING read for its first row still deletes every matching row.
        let gone: Option<String> = db
            .optional(
                "DELETE FROM users WHERE user_id IN ('a', 'b') RETURNING user_id",
                &[],
                |r| r.get(0),
            )
            .unwrap();
        assert!(gone.is_some());
        let left: i64 = db
            .one("SELECT count(*) FROM users", &[], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 2);
    });
}

fn private_to(peer: &str) -> imsync_protocol::Conversation {
    imsync_protocol::Conversation {
        r#type: imsync_protocol::ConversationType::Private as i32,
        target_id: peer.into(),
        channel_id: String::new(),
    }
}

fn text_send(sender: &str, peer: &str, client_id: &str) -> imsync_server::validate::ValidSend {
    let req = imsync_protocol::SendMessageRequest {
        client_msg_id: client_id.into(),
        conversation: Some(private_to(peer)),
        object_name: "RC:TxtMsg".into(),
        content: format!(r#"{{"content":"{client_id}"}}"#),
        is_persisted: true,
        is_counted: true,
        can_include_expansion: true,
        ..Default::default()
    };
    imsync_server::validate::send(sender, &req).unwrap()
}

fn content_of(m: &imsync_protocol::Message) -> String {
    serde_json::from_str::<serde_json::Value>(&m.content).unwrap()["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn sends_pull_pages_and_deduplicate_on_both_engines() {
    use imsync_server::store::messages;
    on_both_backends("store sends", |db| {
        let first = messages::send(db, "alice", text_send("alice", "bob", "c1"), 1_000).unwrap();
        assert_eq!(first.value.seq, 1, "the sender's own inbox seq");
        assert_eq!(first.deliveries.len(), 2, "alice's and bob's inboxes");
        for i in 2..=5 {
            let id = format!("c{i}");
            messages::send(db, "alice", text_send("alice", "bob", &id), 1_000 + i).unwrap();
        }
        // The same client id again: the first ack, nothing stored, nobody told.
        let again = messages::send(db, "alice", text_send("alice", "bob", "c1"), 2_000).unwrap();
        assert_eq!(again.value.message_uid, first.value.message_uid);
        assert_eq!(again.value.seq, 1);
        assert!(again.deliveries.is_empty());

        let page = messages::pull(db, "bob", 0, 2).unwrap();
        assert_eq!((page.head_seq, page.min_seq, page.has_more), (5, 1, true));
        let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2]);
        let m = page.entries[0].message.as_ref().unwrap();
        assert_eq!(
            m.direction,
            imsync_protocol::MessageDirection::Receive as i32
        );
        assert_eq!(
            m.conversation.as_ref().unwrap().target_id,
            "alice",
            "bob's view"
        );
        assert_eq!(content_of(m), "c1");
        let rest = messages::pull(db, "bob", 2, 100).unwrap();
        assert_eq!(rest.entries.len(), 3);
        assert!(!rest.has_more);
        assert!(messages::pull(db, "bob", 5, 100)
            .unwrap()
            .entries
            .is_empty());
        assert_eq!(messages::head_seq(db, "nobody").unwrap(), 0);

        // A group send reaches members only; an outsider is refused and nothing moves.
        groups::create_or_join(db, "g1", None, &ids(&["alice", "carol"]), 0, 1).unwrap();
        let mut to_group = text_send("carol", "g1", "g-1");
        to_group.kind = imsync_protocol::ConversationType::Group;
        to_group.message.conversation.as_mut().unwrap().r#type =
            imsync_protocol::ConversationType::Group as i32;
        let sent = messages::send(db, "carol", to_group.clone(), 3_000).unwrap();
        let mut owners: Vec<_> = sent
            .deliveries
            .iter()
            .map(|d| match d {
                imsync_server::fanout::Delivery::Entry { user, .. } => user.clone(),
                _ => String::new(),
            })
            .collect();
        owners.sort();
        assert_eq!(owners, ["alice", "carol"]);
        let err = messages::send(db, "bob", to_group, 3_001).err().unwrap();
        assert_eq!(err.code, imsync_protocol::codes::NOT_IN_GROUP);
        assert_eq!(messages::head_seq(db, "bob").unwrap(), 5);
    });
}

#[test]
fn history_pages_past_unpersisted_notices_on_both_engines() {
    use imsync_server::store::messages;
    on_both_backends("store history", |db| {
        let mut sent = Vec::new();
        for i in 1..=5 {
            let id = format!("m{i}");
            let ack = messages::send(db, "alice", text_send("alice", "bob", &id), 10_000 + i)
                .unwrap()
                .value;
            sent.push(ack);
        }
        // Read receipts after them: notices that are not persisted, newer than every
        // message, so the first batches of a "latest" history hold nothing to return.
        for i in 0..40 {
            messages::read_receipt(db, "bob", "alice", "", &sent[4].message_uid, 0, 20_000 + i)
                .unwrap();
        }
        let conv = private_to("bob");
        let latest = messages::history(db, "alice", Some(&conv), 0, 3, 0).unwrap();
        let got: Vec<String> = latest.messages.iter().map(content_of).collect();
        assert_eq!(got, ["m5", "m4", "m3"], "newest first, notices skipped");
        assert!(latest.has_more);
        let all = messages::history(db, "alice", Some(&conv), 0, 5, 0).unwrap();
        assert_eq!(all.messages.len(), 5);
        assert!(!all.has_more, "no sixth persisted message");
        // Before a message's own time excludes it; after it, oldest first.
        let before = messages::history(db, "alice", Some(&conv), sent[2].sent_time, 10, 0).unwrap();
        let got: Vec<String> = before.messages.iter().map(content_of).collect();
        assert_eq!(got, ["m2", "m1"]);
        let after = messages::history(db, "alice", Some(&conv), sent[0].sent_time, 2, 1).unwrap();
        let got: Vec<String> = after.messages.iter().map(content_of).collect();
        assert_eq!(got, ["m2", "m3"]);
        assert!(after.has_more);
        // Bob sees the same conversation from his side.
        let bobs = messages::history(db, "bob", Some(&private_to("alice")), 0, 100, 0).unwrap();
        assert_eq!(bobs.messages.len(), 5);
        assert!(bobs
            .messages
            .iter()
            .all(|m| m.direction == imsync_protocol::MessageDirection::Receive as i32));
    });
}

#[test]
fn recall_and_expansion_on_both_engines() {
    use imsync_server::store::messages;
    on_both_backends("store recall", |db| {
        let ack = messages::send(db, "alice", text_send("alice", "bob", "r1"), 50_000)
            .unwrap()
            .value;
        let mut set = std::collections::BTreeMap::new();
        set.insert("k".to_string(), "v".to_string());
        let ex = messages::expansion(db, "bob", &ack.message_uid, &set, &[], 50_001).unwrap();
        assert_eq!(ex.deliveries.len(), 2, "both holders hear of the change");
        let stored: String = db
            .one(
                "SELECT expansion FROM messages WHERE uid = ?1",
                args![ack.message_uid],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, r#"{"k":"v"}"#);
        let outsider = messages::expansion(db, "carol", &ack.message_uid, &set, &[], 50_002);
        assert!(outsider.is_err());

        let recall = || messages::Recall {
            message_uid: ack.message_uid.clone(),
            conversation: Some(private_to("bob")),
            sent_time: ack.sent_time,
            is_delete: false,
            disable_notification: false,
            push_config: None,
            extra: String::new(),
            user_json: String::new(),
        };
        let first = messages::recall(db, "alice", recall(), 50_010).unwrap();
        assert_eq!(first.deliveries.len(), 2);
        let second = messages::recall(db, "alice", recall(), 50_020).unwrap();
        assert_eq!(
            second.value.message_uid, first.value.message_uid,
            "idempotent"
        );
        assert_eq!(second.value.seq, first.value.seq);
        assert_eq!(second.value.content, first.value.content);
        assert!(second.deliveries.is_empty());
    });
}

fn group_send(sender: &str, group: &str, client_id: &str) -> imsync_server::validate::ValidSend {
    let mut send = text_send(sender, group, client_id);
    send.kind = imsync_protocol::ConversationType::Group;
    send.message.conversation.as_mut().unwrap().r#type =
        imsync_protocol::ConversationType::Group as i32;
    send
}

/// The content of the notices of type `object_name` in `user`'s inbox, oldest first.
fn notices(db: &dyn Db, user: &str, object_name: &str) -> Vec<serde_json::Value> {
    imsync_server::store::messages::pull(db, user, 0, 500)
        .unwrap()
        .entries
        .into_iter()
        .filter_map(|e| e.message)
        .filter(|m| m.object_name == object_name)
        .map(|m| serde_json::from_str(&m.content).unwrap())
        .collect()
}

#[test]
fn delivery_receipts_count_each_recipient_once_on_both_engines() {
    use imsync_server::store::{delivery, messages};
    on_both_backends("store delivery", |db| {
        let dlv = imsync_protocol::object_names::DELIVERY_NOTICE;
        messages::send(db, "alice", text_send("alice", "bob", "p1"), 1).unwrap();
        messages::send(db, "alice", text_send("alice", "bob", "p2"), 2).unwrap();
        groups::create_or_join(db, "g1", None, &ids(&["alice", "bob", "carol"]), 0, 1).unwrap();
        messages::send(db, "alice", group_send("alice", "g1", "g1"), 3).unwrap();

        let bob_head = messages::head_seq(db, "bob").unwrap();
        assert_eq!(bob_head, 3);
        let acked = delivery::ack(db, "bob", bob_head, 10).unwrap();
        assert_eq!(
            acked.deliveries.len(),
            2,
            "one private and one group notice"
        );
        let got = notices(db, "alice", dlv);
        assert_eq!(got.len(), 2);
        let private = got
            .iter()
            .find(|c| c["list"].as_array().unwrap().len() == 2);
        assert!(
            private.is_some(),
            "both private messages in one notice: {got:?}"
        );
        let group = got
            .iter()
            .find(|c| c["list"][0].get("deliveryCount").is_some());
        let group = &group.expect("a group notice")["list"][0];
        assert_eq!(
            (
                group["deliveryCount"].as_i64(),
                group["totalCount"].as_i64()
            ),
            (Some(1), Some(2))
        );

        // Acking the same place again tells nobody; a second member moves the count.
        assert!(delivery::ack(db, "bob", bob_head, 11)
            .unwrap()
            .deliveries
            .is_empty());
        delivery::ack(db, "carol", messages::head_seq(db, "carol").unwrap(), 12).unwrap();
        let got = notices(db, "alice", dlv);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2]["list"][0]["deliveryCount"].as_i64(), Some(2));
        // An ack past the head is cut to it.
        assert!(delivery::ack(db, "carol", 1_000, 13)
            .unwrap()
            .deliveries
            .is_empty());
    });
}

#[test]
fn deletes_are_for_the_caller_only_and_all_or_nothing_on_both_engines() {
    use imsync_protocol::delete_messages_request::What;
    use imsync_protocol::{MessageRef, MessageRefs};
    use imsync_server::store::{deletes, messages};
    on_both_backends("store deletes", |db| {
        let acks: Vec<_> = (1..=3)
            .map(|i| {
                let id = format!("d{i}");
                messages::send(db, "alice", text_send("alice", "bob", &id), 100 + i)
                    .unwrap()
                    .value
            })
            .collect();
        let texts = |user: &str, peer: &str| -> Vec<String> {
            let page = messages::history(db, user, Some(&private_to(peer)), 0, 100, 1).unwrap();
            page.messages.iter().map(content_of).collect()
        };
        let refs = |list: &[(&str, i64)]| {
            Some(What::Messages(MessageRefs {
                messages: list
                    .iter()
                    .map(|(uid, t)| MessageRef {
                        message_uid: uid.to_string(),
                        sent_time: *t,
                    })
                    .collect(),
            }))
        };
        let conv = private_to("bob");
        // One good and one unknown uid: refused, and the good one stays.
        let mixed = refs(&[(&acks[1].message_uid, acks[1].sent_time), ("nope", 1)]);
        assert!(deletes::delete(db, "alice", Some(&conv), mixed, 200).is_err());
        assert_eq!(texts("alice", "bob"), ["d1", "d2", "d3"]);

        let one = refs(&[(&acks[1].message_uid, acks[1].sent_time)]);
        let out = deletes::delete(db, "alice", Some(&conv), one.clone(), 201).unwrap();
        assert_eq!(out.deliveries.len(), 1, "a notice to alice's own devices");
        assert_eq!(texts("alice", "bob"), ["d1", "d3"]);
        assert_eq!(
            texts("bob", "alice"),
            ["d1", "d2", "d3"],
            "bob keeps his copy"
        );
        // Deleting again is a no-op.
        let again = deletes::delete(db, "alice", Some(&conv), one, 202).unwrap();
        assert!(again.deliveries.is_empty());

        let clear = Some(What::ClearBefore(acks[2].sent_time));
        deletes::delete(db, "alice", Some(&conv), clear, 203).unwrap();
        assert_eq!(texts("alice", "bob"), ["d3"]);
        let deleted = notices(db, "alice", imsync_protocol::object_names::DELETE_NOTICE);
        assert_eq!(deleted.len(), 2);
        assert_eq!(deleted[1]["clearBefore"].as_i64(), Some(acks[2].sent_time));
    });
}

#[test]
fn the_word_filter_blocks_and_replaces_on_both_engines() {
    use imsync_server::moderation::{self, filter::Action};
    use imsync_server::store::messages;
    on_both_backends("store moderation", |db| {
        moderation::add(db, "Bad", &Action::Block, 2, 1).unwrap();
        moderation::add(db, "meh", &Action::Replace("*".into()), 2, 2).unwrap();
        let over = moderation::add(db, "third", &Action::Block, 2, 3);
        assert!(over.is_err(), "the limit counts listed words");
        // The same word in another case changes its action without counting again.
        moderation::add(db, "BAD", &Action::Block, 2, 4).unwrap();
        assert_eq!(moderation::list(db).unwrap().len(), 2);

        let mut bad = text_send("alice", "bob", "x1");
        bad.message.content = r#"{"content":"so bad"}"#.into();
        let blocked = moderation::send(db, "alice", bad.clone(), 10).unwrap();
        let (ack, verdict) = blocked.value;
        assert_eq!(
            verdict.unwrap().code,
            imsync_protocol::codes::SENSITIVE_SHIELD
        );
        assert_eq!(
            messages::head_seq(db, "bob").unwrap(),
            0,
            "bob receives nothing"
        );
        let resent = moderation::send(db, "alice", bad, 11).unwrap();
        assert_eq!(resent.value.0.message_uid, ack.message_uid);
        assert!(resent.deliveries.is_empty());

        let mut meh = text_send("alice", "bob", "x2");
        meh.message.content = r#"{"content":"meh ok"}"#.into();
        let replaced = moderation::send(db, "alice", meh, 12).unwrap();
        assert_eq!(
            replaced.value.1.unwrap().code,
            imsync_protocol::codes::SENSITIVE_REPLACE
        );
        let page = messages::pull(db, "bob", 0, 10).unwrap();
        assert_eq!(page.entries.len(), 1);
        assert_eq!(
            content_of(page.entries[0].message.as_ref().unwrap()),
            "* ok"
        );

        assert_eq!(moderation::remove(db, &ids(&["bad", "none"])).unwrap(), 1);
        assert_eq!(moderation::list(db).unwrap().len(), 1);
    });
}

/// The Store's writer on PostgreSQL: a job that goes on past a failed statement is
/// reported failed and leaves nothing (PostgreSQL would turn its COMMIT into a rollback),
/// a job returning an error leaves nothing, and a good job commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_writer_never_reports_a_commit_it_did_not_make() {
    use imsync_server::error::ApiError;
    use imsync_server::store::{Backend, Outcome, Store};

    let Some(pg) = Postgres::start("store writer") else {
        return;
    };
    let url = pg.create_database("writer");
    let (fanout, _deliveries) = tokio::sync::mpsc::unbounded_channel();
    let store = Store::open_backend(Backend::Postgres(url), fanout).unwrap();
    let add = |db: &dyn Db, user: &str| {
        db.execute(
            "INSERT INTO users (user_id, created_at) VALUES (?1, 1)",
            args![user],
        )
    };
    let ignored = store
        .write(move |db| {
            let _ = db.execute("INSERT INTO no_such_table VALUES (?1)", args![1]);
            add(db, "after-a-failure")?;
            Ok(Outcome::quiet(()))
        })
        .await;
    assert!(ignored.is_err(), "reported failed");
    let refused = store
        .write(move |db| {
            add(db, "refused")?;
            Err::<Outcome<()>, _>(ApiError::invalid("no"))
        })
        .await;
    assert_eq!(refused.unwrap_err().msg, "no");
    store
        .write(move |db| {
            add(db, "kept")?;
            Ok(Outcome::quiet(()))
        })
        .await
        .unwrap();
    let users = store
        .read(|db| {
            db.all("SELECT user_id FROM users ORDER BY user_id", &[], |r| {
                r.get::<String>(0)
            })
        })
        .await
        .unwrap();
    assert_eq!(users, ["kept"]);
    store.shutdown();
}

/// Rows of `table` (whole-table counts for the read fan-out checks).
fn rows(db: &dyn Db, sql: &'static str) -> i64 {
    db.one(sql, &[], |r| r.get(0)).unwrap()
}

/// The contents of `user`'s inbox, in seq order, checking the seqs run 1, 2, 3...
fn inbox_contents(db: &dyn Db, user: &str) -> Vec<String> {
    let page = imsync_server::store::messages::pull(db, user, 0, 500).unwrap();
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "{user}'s seqs"
    );
    page.entries
        .iter()
        .map(|e| {
            let m = e.message.as_ref().unwrap();
            match m.object_name.as_str() {
                "RC:TxtMsg" => content_of(m),
                other => other.to_owned(),
            }
        })
        .collect()
}

fn alice_sends_to(db: &dyn Db, group: &str, client_id: &str) {
    imsync_server::store::messages::send(db, "alice", group_send("alice", group, client_id), 990)
        .unwrap();
}

#[test]
fn large_groups_are_one_timeline_copied_on_read_on_both_engines() {
    use imsync_server::fanout::Delivery;
    use imsync_server::store::{messages, timeline};
    on_both_backends("store timelines", |db| {
        // Below the threshold: one inbox row per member, as before.
        groups::create_or_join(db, "small", None, &ids(&["alice", "bob"]), 3, 1).unwrap();
        assert!(!timeline::is_timeline(db, "small").unwrap());
        messages::send(db, "alice", group_send("alice", "small", "s1"), 10).unwrap();
        assert_eq!(rows(db, "SELECT count(*) FROM inbox"), 2);

        // Reaching it: one timeline; a send writes the sender's entry and one timeline row.
        let four = ids(&["alice", "bob", "carol", "dave"]);
        groups::create_or_join(db, "big", None, &four, 3, 20).unwrap();
        assert!(timeline::is_timeline(db, "big").unwrap());
        for (i, id) in ["m1", "m2", "m3"].iter().enumerate() {
            let sent = messages::send(db, "alice", group_send("alice", "big", id), 100 + i as i64)
                .unwrap();
            assert_eq!(sent.value.seq, 2 + i as u64, "alice's own inbox seq");
            assert!(
                matches!(&sent.deliveries[..], [Delivery::Entry { user, .. }, Delivery::Timeline { group }] if user == "alice" && group == "big"),
                "{:?}",
                sent.deliveries
            );
        }
        assert_eq!(rows(db, "SELECT count(*) FROM inbox"), 2 + 3);
        assert_eq!(rows(db, "SELECT count(*) FROM group_timeline"), 3);
        // A resend is deduplicated as any send.
        let again = messages::send(db, "alice", group_send("alice", "big", "m1"), 200).unwrap();
        assert_eq!(again.value.seq, 2);
        assert!(again.deliveries.is_empty());
        assert_eq!(rows(db, "SELECT count(*) FROM group_timeline"), 3);
        let outsider = messages::send(db, "erin", group_send("erin", "big", "x"), 201);
        assert_eq!(
            outsider.err().unwrap().code,
            imsync_protocol::codes::NOT_IN_GROUP
        );

        // bob reads: the timeline is copied once, in order.
        assert!(timeline::is_behind(db, "bob").unwrap());
        assert_eq!(inbox_contents(db, "bob"), ["s1"]);
        let copied = timeline::catch_up(db, &["bob", "carol"], 300).unwrap();
        assert_eq!(copied.len(), 6);
        assert!(!timeline::is_behind(db, "bob").unwrap());
        assert_eq!(inbox_contents(db, "bob"), ["s1", "m1", "m2", "m3"]);
        assert_eq!(inbox_contents(db, "carol"), ["m1", "m2", "m3"]);
        let m = messages::pull(db, "carol", 0, 1).unwrap().entries[0].clone();
        let m = m.message.unwrap();
        assert_eq!(
            m.direction,
            imsync_protocol::MessageDirection::Receive as i32
        );
        assert_eq!(m.conversation.unwrap().target_id, "big");
        assert!(timeline::catch_up(db, &["bob", "carol"], 301)
            .unwrap()
            .is_empty());
        assert_eq!(inbox_contents(db, "bob").len(), 4, "nothing copied twice");

        // bob sends: he is caught up first, so his message follows what he has.
        messages::send(db, "bob", group_send("bob", "big", "b1"), 400).unwrap();
        assert_eq!(inbox_contents(db, "bob"), ["s1", "m1", "m2", "m3", "b1"]);

        // A recall of a timeline message goes through the timeline.
        let m1_uid: String = db
            .one(
                "SELECT uid FROM messages WHERE client_msg_id = 'm1'",
                &[],
                |r| r.get(0),
            )
            .unwrap();
        let m1_time: i64 = db
            .one(
                "SELECT sent_time FROM messages WHERE client_msg_id = 'm1'",
                &[],
                |r| r.get(0),
            )
            .unwrap();
        let recall = messages::Recall {
            message_uid: m1_uid,
            conversation: Some(imsync_protocol::Conversation {
                r#type: imsync_protocol::ConversationType::Group as i32,
                target_id: "big".into(),
                channel_id: String::new(),
            }),
            sent_time: m1_time,
            is_delete: false,
            disable_notification: false,
            push_config: None,
            extra: String::new(),
            user_json: String::new(),
        };
        messages::recall(db, "alice", recall, 500).unwrap();
        assert_eq!(inbox_contents(db, "alice").last().unwrap(), "RC:RcNtf");
        timeline::catch_up(db, &["carol"], 501).unwrap();
        assert_eq!(
            inbox_contents(db, "carol"),
            ["m1", "m2", "m3", "b1", "RC:RcNtf"]
        );

        // dave leaves: what was sent while he was a member is his; later sends are not.
        groups::quit(db, "big", &ids(&["dave"]), 600).unwrap();
        assert_eq!(
            inbox_contents(db, "dave"),
            ["m1", "m2", "m3", "b1", "RC:RcNtf"]
        );
        // erin joins: she sees what is sent from now on.
        groups::create_or_join(db, "big", None, &ids(&["erin"]), 3, 700).unwrap();
        messages::send(db, "alice", group_send("alice", "big", "m4"), 800).unwrap();
        assert!(!timeline::is_behind(db, "dave").unwrap());
        assert_eq!(inbox_contents(db, "dave").len(), 5);

        // The online members of a grown group are caught up; the others wait.
        let online = |u: &str| u == "erin";
        let groups_grown = std::collections::BTreeSet::from(["big".to_string()]);
        let pushed = timeline::catch_up_groups(db, &groups_grown, &online, 900).unwrap();
        assert_eq!(pushed.len(), 1);
        assert_eq!(inbox_contents(db, "erin"), ["m4"]);
        assert!(timeline::is_behind(db, "carol").unwrap());
        // A message straight to carol's inbox comes after what the timeline had before it.
        let direct = messages::send(db, "bob", text_send("bob", "carol", "p1"), 950).unwrap();
        // bob had the recall notice and m4 pending, carol m4: copied first, then p1 to both.
        assert_eq!(direct.deliveries.len(), 5);
        assert_eq!(
            inbox_contents(db, "carol"),
            ["m1", "m2", "m3", "b1", "RC:RcNtf", "m4", "p1"]
        );
        alice_sends_to(db, "big", "m5");
        assert!(timeline::is_behind(db, "carol").unwrap());

        // Dismissed: the pending entries are copied, the timeline goes.
        groups::dismiss(db, "big", 1_000).unwrap();
        assert_eq!(inbox_contents(db, "carol").last().unwrap(), "m5");
        assert_eq!(rows(db, "SELECT count(*) FROM group_timeline"), 0);
        assert_eq!(rows(db, "SELECT count(*) FROM timeline_cursors"), 0);
        assert!(!timeline::is_timeline(db, "big").unwrap());
    });
}

#[test]
fn send_times_of_one_conversation_strictly_increase_on_both_engines() {
    use imsync_server::store::messages;
    // (Users of their own: on SQLite the clock is this process's, shared by every test.)
    on_both_backends("store clocks", |db| {
        let times: Vec<i64> = (0..3)
            .map(|i| {
                let send = text_send("clk-a", "clk-b", &format!("t{i}"));
                messages::send(db, "clk-a", send, 5_000)
                    .unwrap()
                    .value
                    .sent_time
            })
            .collect();
        assert_eq!(times, [5_000, 5_001, 5_002]);
        // The other direction is the same conversation; another one is not.
        let back = messages::send(db, "clk-b", text_send("clk-b", "clk-a", "t3"), 5_000).unwrap();
        assert_eq!(back.value.sent_time, 5_003);
        let other = messages::send(db, "clk-b", text_send("clk-b", "clk-c", "t4"), 5_000).unwrap();
        assert_eq!(other.value.sent_time, 5_000);
        if db.as_postgres().is_some() {
            // Several nodes share the clock through the database.
            let rows = rows(db, "SELECT count(*) FROM conversation_clocks");
            assert_eq!(rows, 2);
        }
    });
}

/// Fan-outs and catch-ups of many users run as set-based statements (few users: one
/// statement per row); both keep every inbox gap-free and in order.
#[test]
fn many_member_fan_outs_and_catch_ups_on_both_engines() {
    use imsync_server::store::{messages, timeline};
    on_both_backends("store many members", |db| {
        let users: Vec<String> = (0..40).map(|i| format!("mm{i:02}")).collect();
        // Written to each inbox (no timeline), then a timeline of the same people.
        groups::create_or_join(db, "wide", None, &users, 0, 1).unwrap();
        groups::create_or_join(db, "tall", None, &users, 10, 1).unwrap();
        assert!(timeline::is_timeline(db, "tall").unwrap());
        for i in 0..3 {
            let (g, w) = (format!("g{i}"), format!("w{i}"));
            messages::send(db, "mm00", group_send("mm00", "wide", &w), 10 + i).unwrap();
            messages::send(db, "mm01", group_send("mm01", "tall", &g), 10 + i).unwrap();
        }
        // Each send to "wide" first copied "tall" so far into its 40 inboxes; mm02..mm39
        // are behind by the last message of "tall" only: one catch-up copies it for all.
        let behind: Vec<&str> = users[2..].iter().map(String::as_str).collect();
        let copied = timeline::catch_up(db, &behind, 100).unwrap();
        assert_eq!(copied.len(), 38);
        let in_commit_order = ["w0", "g0", "w1", "g1", "w2", "g2"];
        for u in &users[2..] {
            assert_eq!(inbox_contents(db, u), in_commit_order, "{u}");
        }
        // A send to the wide group now first catches up mm00 (behind on "tall").
        messages::send(db, "mm00", group_send("mm00", "wide", "w3"), 200).unwrap();
        assert_eq!(
            inbox_contents(db, "mm00"),
            ["w0", "g0", "w1", "g1", "w2", "g2", "w3"]
        );
        assert!(!timeline::is_behind(db, "mm39").unwrap());
    });
}

/// A large group's message counts its members as recipients in delivery receipts (not the
/// inboxes it was copied into so far), and clearing a large group's history covers what
/// had not been copied yet.
#[test]
fn timeline_receipts_and_clears_on_both_engines() {
    use imsync_protocol::delete_messages_request::What;
    use imsync_server::fanout::Delivery;
    use imsync_server::store::deletes;
    use imsync_server::store::{delivery, messages, timeline};
    on_both_backends("store timeline receipts", |db| {
        let four = ids(&["rc-a", "rc-b", "rc-c", "rc-d"]);
        groups::create_or_join(db, "rc", None, &four, 3, 1).unwrap();
        messages::send(db, "rc-a", group_send("rc-a", "rc", "m1"), 10).unwrap();
        timeline::catch_up(db, &["rc-b"], 20).unwrap();
        let out = delivery::ack(db, "rc-b", 1, 30).unwrap();
        let receipt = out
            .deliveries
            .iter()
            .find_map(|d| match d {
                Delivery::Entry { user, entry } if user == "rc-a" => entry.message.clone(),
                _ => None,
            })
            .expect("a receipt to the sender");
        assert!(
            receipt.content.contains(r#""totalCount":3"#),
            "{}",
            receipt.content
        );

        // rc-c never read: clearing the group's history covers m1 all the same.
        let conv = imsync_protocol::Conversation {
            r#type: imsync_protocol::ConversationType::Group as i32,
            target_id: "rc".into(),
            channel_id: String::new(),
        };
        deletes::delete(db, "rc-c", Some(&conv), Some(What::ClearBefore(1_000)), 40).unwrap();
        assert!(!timeline::is_behind(db, "rc-c").unwrap());
        let left: Vec<String> = messages::pull(db, "rc-c", 0, 100)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.message.unwrap().object_name)
            .collect();
        assert!(!left.contains(&"RC:TxtMsg".to_string()), "{left:?}");
    });
}

#[test]
fn chatrooms_keep_members_seats_history_and_blocks_on_both_engines() {
    use imsync_protocol::chatroom_rules as rules;
    use imsync_protocol::Message;
    use imsync_server::store::chatrooms::{self as rooms, JoinArgs, OFFLINE_GRACE_MS};
    const HISTORY_MS: i64 = 60 * 86_400_000;
    let args =
        |room: &str, user: &str, session: &str, node: &str, create: bool, now: i64| JoinArgs {
            room_id: room.into(),
            user: user.into(),
            session_id: session.into(),
            node_id: node.into(),
            create,
            count: 3,
            multiple_rooms: true,
            now,
            history_ms: HISTORY_MS,
        };
    let msg = |text: &str| Message {
        content: text.into(),
        ..Default::default()
    };
    let texts = |m: &[Message]| m.iter().map(|m| m.content.clone()).collect::<Vec<_>>();
    let members = |c: &dyn Db, room: &str| {
        let info = rooms::info(c, room, 20, 1).unwrap();
        let ids: Vec<String> = info.members.into_iter().map(|m| m.user_id).collect();
        (info.member_count, ids)
    };
    on_both_backends("store chatrooms", |c| {
        let join = |a: JoinArgs| rooms::join(c, &a);
        let e = join(args("r", "a", "s1", "n1", false, 1)).unwrap_err();
        assert_eq!(e.code, rules::NOT_EXIST);
        let j = join(args("r", "a", "s1", "n1", true, 10)).unwrap();
        assert_eq!((j.create_time, j.join_time, j.member_count), (10, 10, 1));
        join(args("r", "b", "s2", "n2", false, 11)).unwrap();
        // a's second device, on another node: a rejoin keeps the join time.
        let j = join(args("r", "a", "s3", "n2", false, 12)).unwrap();
        assert_eq!((j.join_time, j.member_count), (10, 2));

        // Sent times strictly increase even within one millisecond; joins get the latest.
        for i in 0..5 {
            let sent = rooms::send(
                c,
                "r",
                Some(("a", "s1")),
                msg(&format!("m{i}")),
                100,
                HISTORY_MS,
            )
            .unwrap()
            .unwrap();
            assert_eq!(sent.message.sent_time, 100 + i);
        }
        for (sender, code) in [(("a", "s9"), 23406), (("a", "s2"), 23406)] {
            let e = rooms::send(c, "r", Some(sender), msg("x"), 101, HISTORY_MS).unwrap_err();
            assert_eq!(e.code, code);
        }
        assert!(rooms::send(c, "nope", None, msg("x"), 101, HISTORY_MS)
            .unwrap()
            .is_none());
        let j = join(args("r", "b", "s2", "n2", false, 105)).unwrap();
        assert_eq!(texts(&j.messages), ["m2", "m3", "m4"]);
        let h = rooms::history(c, "r", "b", 0, 2, 0).unwrap();
        assert_eq!(
            (texts(&h.messages), h.has_more),
            (vec!["m3".into(), "m4".into()], true)
        );
        let h = rooms::history(c, "r", "b", 101, 10, 1).unwrap();
        assert_eq!((h.messages.len(), h.has_more), (3, false));
        assert_eq!(
            rooms::history(c, "r", "z", 0, 2, 0).unwrap_err().code,
            23406
        );

        // A user leaves with its last connection.
        let q = rooms::quit(c, "r", "a", "s1").unwrap();
        assert!(q.seated && q.left.is_none());
        let q = rooms::quit(c, "r", "a", "s3").unwrap();
        assert_eq!(q.left.map(|l| l.member_count), Some(1));
        assert_eq!(members(c, "r"), (1, vec!["b".to_string()]));

        // The offline rule: b's connection closes at 200; a send at 200 + grace - 1 keeps
        // b, one at 200 + grace removes it.
        join(args("r", "a", "s1", "n1", false, 150)).unwrap();
        assert_eq!(rooms::close_session(c, "s2", 200).unwrap(), ["r"]);
        let keep = rooms::send(
            c,
            "r",
            Some(("a", "s1")),
            msg("k"),
            200 + OFFLINE_GRACE_MS - 1,
            HISTORY_MS,
        );
        assert!(keep.unwrap().unwrap().departure.is_none());
        let gone = rooms::send(
            c,
            "r",
            Some(("a", "s1")),
            msg("g"),
            200 + OFFLINE_GRACE_MS,
            HISTORY_MS,
        );
        assert_eq!(
            gone.unwrap().unwrap().departure.map(|d| d.member_count),
            Some(1)
        );
        assert_eq!(members(c, "r").1, ["a"]);

        // Seats of a node gone for good are removed; their users' grace starts then.
        join(args("r", "c", "s4", "n3", false, 40_000)).unwrap();
        assert_eq!(
            rooms::drop_dead_seats(c, &["n1".into()], 40_001).unwrap(),
            1
        );
        let since: Option<i64> = c
            .one(
                "SELECT offline_since FROM chatroom_members WHERE room_id = 'r' AND user_id = 'c'",
                &[],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(since, Some(40_001));
        assert_eq!(
            rooms::drop_node_seats(c, "n1", 40_002).unwrap(),
            1,
            "a's seat"
        );

        // Blocks: removed at once, refused until the block ends.
        let (gone, left) = rooms::block(c, "r", &["c".into()], 50_000, 41_000).unwrap();
        assert_eq!((gone, left.member_count), (vec!["c".to_string()], 1));
        let e = join(args("r", "c", "s4", "n3", false, 49_999)).unwrap_err();
        assert_eq!(e.code, rules::USER_KICKED);
        join(args("r", "c", "s4", "n3", false, 50_000)).unwrap();
        assert_eq!(
            rooms::block(c, "nope", &[], 1, 1).unwrap_err().code,
            rules::NOT_EXIST
        );

        // One room per user: joining another takes the user out of the first.
        let j = rooms::join(
            c,
            &JoinArgs {
                multiple_rooms: false,
                ..args("r2", "c", "s4", "n3", true, 51_000)
            },
        )
        .unwrap();
        assert_eq!(j.left_rooms.len(), 1);
        assert_eq!(
            (
                j.left_rooms[0].room_id.as_str(),
                j.left_rooms[0].member_count
            ),
            ("r", 1)
        );

        // History keeps the newest 1,000.
        for i in 0..1_005 {
            rooms::send(c, "r2", None, msg(&format!("h{i}")), 52_000, HISTORY_MS).unwrap();
        }
        let kept: i64 = c
            .one(
                "SELECT COUNT(*) FROM chatroom_history WHERE room_id = 'r2'",
                &[],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 1_000);
        let j = join(args("r2", "d", "s5", "n3", false, 60_000)).unwrap();
        assert_eq!(texts(&j.messages), ["h1002", "h1003", "h1004"]);

        // Idle rooms go with everything they held; destroy likewise.
        assert_eq!(rooms::sweep(c, 59_999, 60_000).unwrap(), ["r"]);
        assert_eq!(rooms::room_count(c).unwrap(), 1);
        assert_eq!(
            rooms::destroy(c, &["r2".into(), "r".into()]).unwrap(),
            ["r2"]
        );
        for sql in [
            "SELECT COUNT(*) FROM chatroom_members",
            "SELECT COUNT(*) FROM chatroom_seats",
            "SELECT COUNT(*) FROM chatroom_history",
        ] {
            let n: i64 = c.one(sql, &[], |r| r.get(0)).unwrap();
            assert_eq!(n, 0, "{sql}");
        }
        // The expired block went with the sweep.
        let blocks: i64 = c
            .one("SELECT COUNT(*) FROM chatroom_blocks", &[], |r| r.get(0))
            .unwrap();
        assert_eq!(blocks, 0);
    });
}

/// Two devices of one user joining two rooms at once (on two nodes) each take the user out
/// of the other's room: without taking turns, their transactions lock each other's member
/// rows and PostgreSQL aborts one as a deadlock.
#[test]
fn one_users_concurrent_joins_on_postgres_take_turns() {
    use imsync_server::store::chatrooms::{self as rooms, JoinArgs};
    let Some(pg) = Postgres::start("postgres chatroom joins") else {
        return;
    };
    let url = pg.create_database("joins");
    pg_schema::migrate(&PgDb::connect(&url).unwrap()).unwrap();
    let setup = PgDb::connect(&url).unwrap();
    rooms::create(&setup, &["r0".into(), "r1".into()], 1).unwrap();
    let devices: Vec<_> = (0..2)
        .map(|d| {
            let url = url.clone();
            std::thread::spawn(move || {
                let db = PgDb::connect(&url).unwrap();
                for i in 0..200 {
                    let room = format!("r{}", (i + d) % 2);
                    db.transaction(|tx| {
                        rooms::join(
                            tx,
                            &JoinArgs {
                                room_id: room,
                                user: "u".into(),
                                session_id: format!("s{d}"),
                                node_id: format!("n{d}"),
                                create: false,
                                count: 0,
                                multiple_rooms: false,
                                now: 2 + i as i64,
                                history_ms: i64::MAX,
                            },
                        )
                    })
                    .map_err(|e| e.msg)?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for d in devices {
        d.join().unwrap().unwrap();
    }
    let memberships: i64 = (&setup as &dyn Db)
        .one(
            "SELECT COUNT(*) FROM chatroom_members WHERE user_id = 'u'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(memberships, 1, "one room per user");
}

/// Two nodes publish at once: node a to both groups (listed in one order), node b to both
/// (listed in the other) and to one of them alone. Every publish lands, once: a publish to
/// several conversations takes their rows in one order, and what PostgreSQL still aborts
/// as a conflict the store runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_publishes_to_several_groups_on_two_nodes_all_land() {
    use imsync_server::store::messages::{publish_group, Publish};
    use imsync_server::store::{Backend, Outcome, Store};

    let Some(pg) = Postgres::start("publish conflicts") else {
        return;
    };
    let url = pg.create_database("publish");
    let open = || {
        let (fanout, deliveries) = tokio::sync::mpsc::unbounded_channel();
        std::mem::forget(deliveries);
        Store::open_backend(Backend::Postgres(url.clone()), fanout).unwrap()
    };
    let (node_a, node_b) = (open(), open());
    let members: Vec<String> = (0..20).map(|i| format!("u{i:02}")).collect();
    for g in ["g1", "g2"] {
        let m = members.clone();
        node_a
            .write(move |c| {
                Ok(Outcome::quiet(groups::create_or_join(
                    c, g, None, &m, 0, 1,
                )?))
            })
            .await
            .unwrap();
    }
    const ROUNDS: usize = 30;
    let publish = |store: Store, plan: Vec<Vec<&'static str>>| async move {
        for i in 0..ROUNDS {
            for to in &plan {
                let p = Publish {
                    from: "admin".into(),
                    object_name: "RC:TxtMsg".into(),
                    content: format!("{{\"content\":\"{i}\"}}"),
                    is_persisted: true,
                    is_counted: true,
                    disable_notification: false,
                    push_config: None,
                    include_sender: false,
                };
                let to: Vec<String> = to.iter().map(|g| g.to_string()).collect();
                let uids = store
                    .write_retrying(move |c| publish_group(c, &p, &to, &[], 10 + i as i64))
                    .await
                    .map_err(|e| e.msg)?;
                assert!(uids.iter().all(|u| !u.is_empty()));
            }
        }
        Ok::<(), String>(())
    };
    let a = tokio::spawn(publish(node_a.clone(), vec![vec!["g1", "g2"]]));
    let b = tokio::spawn(publish(node_b.clone(), vec![vec!["g2"], vec!["g2", "g1"]]));
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    let rows: i64 = node_a
        .read(|c| {
            c.one(
                "SELECT COUNT(*) FROM inbox WHERE user_id = 'u00'",
                &[],
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(rows, 5 * ROUNDS as i64, "each publish once");
}
