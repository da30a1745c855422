//! Search answers checked against a brute-force substring oracle on a generated corpus of
//! mixed Chinese, English (varied case) and emoji text, for keywords of 1 to 8 characters.

use imsync_core::store::tokenizer::fold_str;
use imsync_core::Engine;
use serde_json::{json, Value};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const HANZI: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府";
const WORDS: &[&str] = &[
    "Hello", "world", "MEETING", "tomorrow", "Report", "budget", "the", "a", "of", "Zoom", "ok",
];
const EMOJI: &[&str] = &["😀", "👍", "🎉", "👨‍👩‍👧", "❤️", "🇨🇳"];

fn sentence(rng: &mut Rng) -> String {
    let hanzi: Vec<char> = HANZI.chars().collect();
    let mut s = String::new();
    let parts = 1 + rng.below(6);
    for _ in 0..parts {
        match rng.below(4) {
            0 | 1 => (0..1 + rng.below(8)).for_each(|_| s.push(hanzi[rng.below(hanzi.len())])),
            2 => {
                s.push_str(WORDS[rng.below(WORDS.len())]);
                s.push(' ');
            }
            _ => s.push_str(EMOJI[rng.below(EMOJI.len())]),
        }
    }
    s
}

#[tokio::test]
async fn search_matches_a_brute_force_substring_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(
        &json!({ "appkey": "app", "dbpath": dir.path().to_str().unwrap(), "logOutputLevel": 1 }),
    )
    .unwrap();
    e.open(json!("alice")).await.unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let targets = ["bob", "carol", "dave"];
    // (target, id, sentTime, text)
    // (target, per-conversation sequence, sentTime, text). Local ids are
    // `conversation << 32 | sequence`, the sequence counting inserts in that conversation.
    let mut corpus: Vec<(String, i64, i64, String)> = Vec::new();
    let mut seq = std::collections::HashMap::new();
    for batch in 0..6 {
        let msgs: Vec<Value> = (0..300)
            .map(|i| {
                let t = targets[rng.below(targets.len())];
                let text = sentence(&mut rng);
                // Coarse times so that ties exercise the messageId tiebreak.
                let time = 1_000 + (batch * 300 + i) / 3;
                let n = seq.entry(t).or_insert(0i64);
                *n += 1;
                corpus.push((t.to_string(), *n, time, text.clone()));
                json!({ "conversationType": 1, "targetId": t, "messageType": "RC:TxtMsg",
                        "content": { "content": text }, "sentTime": time })
            })
            .collect();
        e.batch_insert_message(json!(msgs), json!(false))
            .await
            .unwrap();
        if batch == 2 {
            // Half the corpus in the index, the rest (most likely) still in the backlog.
            e.index_search_backlog().await.unwrap();
        }
    }

    let mut keywords: Vec<String> = Vec::new();
    for _ in 0..150 {
        let (_, _, _, text) = &corpus[rng.below(corpus.len())];
        let chars: Vec<char> = text.chars().collect();
        let len = 1 + rng.below(8.min(chars.len()));
        let start = rng.below(chars.len() - len + 1);
        let kw: String = chars[start..start + len].iter().collect();
        keywords.push(if rng.below(3) == 0 {
            kw.to_uppercase()
        } else {
            kw
        });
    }
    keywords.extend(["不存在的词", "zzz", "😀👍", "hello w", "O"].map(String::from));

    check_against_oracle(&e, &corpus, &keywords, &targets).await;
    e.index_search_backlog().await.unwrap();
    assert_eq!(e.index_search_backlog().await.unwrap(), 0, "nothing left");
    check_against_oracle(&e, &corpus, &keywords, &targets).await;
}

/// Every keyword through searchMessages (each conversation) and searchConversationByContent.
async fn check_against_oracle(
    e: &Engine,
    corpus: &[(String, i64, i64, String)],
    keywords: &[String],
    targets: &[&str],
) {
    for kw in keywords {
        let needle = fold_str(kw);
        for &t in targets {
            let mut want: Vec<(i64, i64)> = corpus
                .iter()
                .filter(|(tt, _, _, text)| tt == t && fold_str(text).contains(&needle))
                .map(|(_, id, time, _)| (*time, *id))
                .collect();
            want.sort_unstable_by(|a, b| b.cmp(a));
            let r = e
                .search_messages(
                    json!({ "conversationType": 1, "targetId": t }),
                    json!(kw),
                    json!(0),
                    json!(100),
                    Value::Null,
                )
                .await
                .unwrap();
            let got: Vec<i64> = r["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["messageId"].as_i64().unwrap() & 0xFFFF_FFFF)
                .collect();
            let want_ids: Vec<i64> = want.iter().take(100).map(|(_, id)| *id).collect();
            assert_eq!(
                r["count"].as_u64().unwrap() as usize,
                want.len(),
                "count for {kw:?} in {t}"
            );
            assert_eq!(got, want_ids, "messages for {kw:?} in {t}");
        }
        let mut want_convs: Vec<&str> = targets
            .iter()
            .copied()
            .filter(|t| {
                corpus
                    .iter()
                    .any(|(tt, _, _, text)| tt == t && fold_str(text).contains(&needle))
            })
            .collect();
        want_convs.sort();
        let convs = e
            .search_conversation_by_content(json!(kw), json!([]), Value::Null)
            .await
            .unwrap();
        let mut got: Vec<&str> = convs
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["targetId"].as_str().unwrap())
            .collect();
        got.sort();
        assert_eq!(got, want_convs, "conversations for {kw:?}");
    }
}
