//! `zaitaku demo`, the README's first command: it must run on the built-in defaults alone, from
//! any folder, and tour the product.

mod helpers;

use helpers::{Backend, Zt};

#[test]
fn the_demo_tours_the_day_on_the_built_in_defaults() {
    let zt = Zt::new(Backend::Sqlite);
    // No --config: the demo brings its own configuration.
    let r = zt.run_bare(&["demo", "--dir", "tour"]);
    r.expect_code(0);
    for part in [
        "台帳の準備",
        "督促",
        "電話連絡を記録しました",
        "在宅勤務状況",
        "日報:",
        "利用状況調査",
    ] {
        assert!(
            r.stdout.contains(part),
            "the tour lacks {part:?}:\n{}",
            r.stdout
        );
    }
    let sent = std::fs::read_dir(zt.path("tour/outbox")).unwrap().count();
    assert!(
        sent >= 15,
        "acknowledgements, reminders and digests written: {sent}"
    );
    // Run again: a fresh tour, not a pile-up.
    let again = zt.run_bare(&["demo", "--dir", "tour"]);
    again.expect_code(0);
    assert_eq!(
        std::fs::read_dir(zt.path("tour/outbox")).unwrap().count(),
        sent
    );
    // A folder the demo did not make is left alone.
    std::fs::create_dir_all(zt.path("mine")).unwrap();
    std::fs::write(zt.path("mine/notes.txt"), "keep").unwrap();
    zt.run_bare(&["demo", "--dir", "mine"])
        .expect_bad_input(&["notes.txt"]);
    assert!(zt.path("mine/notes.txt").exists());
}
