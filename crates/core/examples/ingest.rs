//! Profiling aid: ingest N generated messages through the core (no JS), printing msgs/s.
//! `cargo run --release -p imsync-core --example ingest -- 100000`

use imsync_core::Engine;
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(
        &json!({ "appkey": "k", "dbpath": dir.path().to_str().unwrap(), "logOutputLevel": 1 }),
    )
    .unwrap();
    e.open(json!("alice")).await.unwrap();
    let hz: Vec<char> = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府".chars().collect();
    let mut x: u64 = 88172645463325252;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let batches: Vec<serde_json::Value> = (0..n / 500)
        .map(|b| {
            json!((0..500)
                .map(|i| {
                    let len = 5 + (rnd() % 55) as usize;
                    let s: String = (0..len)
                        .map(|_| if rnd() % 10 < 7 { hz[(rnd() % hz.len() as u64) as usize] } else { b"abcdefghij "[(rnd() % 11) as usize] as char })
                        .collect();
                    json!({ "conversationType": 1, "targetId": format!("u{}", rnd() % 1000), "messageType": "RC:TxtMsg",
                            "content": { "content": s }, "messageDirection": 2, "sentTime": 1_000_000_000_000i64 + (b * 500 + i) as i64 })
                })
                .collect::<Vec<_>>())
        })
        .collect();
    let t = std::time::Instant::now();
    for b in batches {
        e.batch_insert_message(b, json!(false)).await.unwrap();
    }
    let s = t.elapsed().as_secs_f64();
    println!("ingest {n} in {s:.2}s = {:.0} msgs/s", n as f64 / s);
    e.close().await.unwrap();
}
