//! Every operation, without faults, on SimFs and on a real directory: the state after each step
//! and after a clean restart is what the API promised.

use std::sync::Arc;

use crashsim_sim::{Fs, RealFs, SimFs, SimOptions};
use crashsim_store::transcript::trajectory_events;
use crashsim_store::{Store, StoreError, StoreOptions};
use pollster::block_on;

async fn read(fs: &impl Fs, path: &str) -> Option<Vec<u8>> {
    let fd = fs.open(path, crashsim_sim::OpenOptions::read()).await.ok()?;
    let bytes = fs.read(fd, 1 << 20).await.unwrap();
    fs.close(fd).await.unwrap();
    Some(bytes)
}

async fn names(fs: &impl Fs) -> Vec<String> {
    fs.readdir("sessions").await.unwrap()
}

/// The whole API, step by step, with the promised state checked after each.
async fn exercise<F: Fs>(fs: Arc<F>) {
    let store = Store::open(fs.clone(), StoreOptions::default()).await.unwrap();
    assert_eq!(store.recovery_report().repairs.len(), 1, "a fresh root only gets its sessions dir");
    assert!(store.list().await.unwrap().is_empty());

    // create: canonical key, raw and canonical lookups agree.
    let main = store.create("main").await.unwrap();
    let settings = store.create_labeled("Settings2", Some("prefs")).await.unwrap();
    assert_eq!(store.get("main").await.unwrap().unwrap().session_id, main);
    assert_eq!(store.get("agent:main:main").await.unwrap().unwrap().session_id, main);
    let entry = store.get("settings2").await.unwrap().unwrap();
    assert_eq!((entry.session_id.as_str(), entry.label.as_deref()), (settings.as_str(), Some("prefs")));
    let keys: Vec<String> = store.list().await.unwrap().into_keys().collect();
    assert_eq!(keys, vec!["agent:main:main", "agent:main:settings2"]);
    assert_eq!(store.create("MAIN").await, Err(StoreError::Exists { key: "agent:main:main".into() }));

    // append: transcript and trajectory both grow.
    store.append("main", "hello").await.unwrap();
    store.append("agent:main:main", "line\nbreak \"quoted\"").await.unwrap();
    assert_eq!(store.history("main").await.unwrap(), vec!["hello", "line\nbreak \"quoted\""]);
    let trajectory = read(&*fs, &format!("sessions/{main}.trajectory.jsonl")).await.unwrap();
    assert_eq!(trajectory_events(&trajectory), vec!["session.started", "message.appended", "message.appended"]);
    assert_eq!(store.append("nope", "x").await, Err(StoreError::NotFound { key: "agent:main:nope".into() }));

    // reset: a new session for the key, the old transcript archived, the label kept.
    let settings2 = store.reset("settings2").await.unwrap();
    assert_ne!(settings2, settings);
    let entry = store.get("settings2").await.unwrap().unwrap();
    assert_eq!((entry.session_id.as_str(), entry.label.as_deref()), (settings2.as_str(), Some("prefs")));
    assert!(store.history("settings2").await.unwrap().is_empty());
    let listing = names(&*fs).await;
    assert!(!listing.contains(&format!("{settings}.jsonl")));
    assert!(listing.iter().any(|n| n.starts_with(&format!("{settings}.jsonl.reset."))));
    assert!(listing.iter().any(|n| n.starts_with(&format!("{settings}.trajectory.jsonl.reset."))));

    // rotate: backups accumulate, the newest 3 are kept, the live registry is untouched.
    let before = read(&*fs, "sessions/sessions.json").await.unwrap();
    for _ in 0..4 {
        store.rotate().await.unwrap();
    }
    assert_eq!(read(&*fs, "sessions/sessions.json").await.unwrap(), before);
    let backups: Vec<String> = names(&*fs).await.into_iter().filter(|n| n.contains(".bak.")).collect();
    assert_eq!(backups, vec!["sessions.json.bak.2", "sessions.json.bak.3", "sessions.json.bak.4"]);
    assert_eq!(read(&*fs, "sessions/sessions.json.bak.4").await.unwrap(), before);

    // prune: the oldest entries go, their files archived.
    store.create("third").await.unwrap();
    let evicted = store.prune(2).await.unwrap();
    assert_eq!(evicted, vec!["agent:main:main"]);
    assert_eq!(store.get("main").await.unwrap(), None);
    assert!(names(&*fs).await.iter().any(|n| n.starts_with(&format!("{main}.jsonl.deleted."))));
    assert_eq!(store.prune(5).await.unwrap(), Vec::<String>::new());

    // delete.
    store.delete("third").await.unwrap();
    assert_eq!(store.get("third").await.unwrap(), None);
    assert_eq!(store.delete("third").await, Err(StoreError::NotFound { key: "agent:main:third".into() }));
    store.append("settings2", "after reset").await.unwrap();

    // shutdown: session.ended in each trajectory used, no lock left, calls refused afterwards.
    store.shutdown().await.unwrap();
    let trajectory = read(&*fs, &format!("sessions/{settings2}.trajectory.jsonl")).await.unwrap();
    assert_eq!(trajectory_events(&trajectory).last().map(String::as_str), Some("session.ended"));
    assert!(!names(&*fs).await.contains(&"sessions.json.lock".to_string()));
    assert_eq!(store.create("x").await, Err(StoreError::Closed));

    // restart: nothing to repair, everything acknowledged is there.
    let listing_before = names(&*fs).await;
    let store = Store::open(fs.clone(), StoreOptions { seed: 1, ..StoreOptions::default() }).await.unwrap();
    assert!(store.recovery_report().is_clean(), "{}", store.recovery_report());
    assert_eq!(names(&*fs).await, listing_before);
    let keys: Vec<String> = store.list().await.unwrap().into_keys().collect();
    assert_eq!(keys, vec!["agent:main:settings2"]);
    assert_eq!(store.history("settings2").await.unwrap(), vec!["after reset"]);
}

#[test]
fn every_operation_on_simfs() {
    block_on(exercise(Arc::new(SimFs::new(SimOptions::default()))));
}

#[test]
fn every_operation_on_a_real_directory() {
    let dir = tempfile::tempdir().unwrap();
    block_on(exercise(Arc::new(RealFs::new(dir.path()).unwrap())));
    // The files are real: the registry is readable JSON from outside.
    let text = std::fs::read_to_string(dir.path().join("sessions/sessions.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(value["agent:main:settings2"]["sessionId"].is_string());
}

#[test]
fn same_seed_gives_the_same_disk_byte_for_byte() {
    let run = || {
        let fs = Arc::new(SimFs::new(SimOptions::default()));
        block_on(async {
            let store = Store::open(fs.clone(), StoreOptions::default()).await.unwrap();
            store.create("a").await.unwrap();
            store.append("a", "m").await.unwrap();
            store.reset("a").await.unwrap();
        });
        (fs.volatile_image(), fs.trace().to_string())
    };
    assert_eq!(run(), run());
}

#[test]
fn two_instances_share_one_directory() {
    let fs = Arc::new(SimFs::new(SimOptions::default()));
    block_on(async {
        let gateway_opts = StoreOptions { owner: "gateway".into(), seed: 1, ..StoreOptions::default() };
        let cli_opts = StoreOptions { owner: "cli".into(), seed: 2, ..StoreOptions::default() };
        let gateway = Store::open(fs.clone(), gateway_opts).await.unwrap();
        let cli = Store::open(fs.clone(), cli_opts).await.unwrap();
        let id = gateway.create("main").await.unwrap();
        // Each reads the registry afresh under the lock: neither loses the other's change.
        assert_eq!(cli.get("main").await.unwrap().unwrap().session_id, id);
        cli.create("settings2").await.unwrap();
        assert_eq!(cli.create("main").await, Err(StoreError::Exists { key: "agent:main:main".into() }));
        gateway.append("settings2", "from the gateway").await.unwrap();
        assert_eq!(cli.history("settings2").await.unwrap(), vec!["from the gateway"]);
        let keys: Vec<String> = gateway.list().await.unwrap().into_keys().collect();
        assert_eq!(keys, vec!["agent:main:main", "agent:main:settings2"]);
        // No lock is left between calls.
        assert!(!names(&*fs).await.contains(&"sessions.json.lock".to_string()));
    });
}

#[test]
fn shutdown_releases_a_lock_a_failed_release_left_behind() {
    let fs = Arc::new(SimFs::new(SimOptions::default()));
    block_on(async {
        let store =
            Store::open(fs.clone(), StoreOptions { owner: "gateway".into(), ..StoreOptions::default() }).await.unwrap();
        store.create("a").await.unwrap();
        // As if the release of the last call had failed: the lock is still ours.
        let fd = fs.open("sessions/sessions.json.lock", crashsim_sim::OpenOptions::create_new()).await.unwrap();
        fs.write(fd, b"gateway").await.unwrap();
        fs.close(fd).await.unwrap();
        store.shutdown().await.unwrap();
        assert!(!names(&*fs).await.contains(&"sessions.json.lock".to_string()));
        // Someone else's lock is not ours to remove.
        let fd = fs.open("sessions/sessions.json.lock", crashsim_sim::OpenOptions::create_new()).await.unwrap();
        fs.write(fd, b"cli").await.unwrap();
        fs.close(fd).await.unwrap();
        let alive = crashsim_store::OwnerAlive(Arc::new(|owner| owner == "cli"));
        let opts =
            StoreOptions { owner: "gateway".into(), owner_alive: alive, lock_attempts: 2, ..StoreOptions::default() };
        assert!(matches!(Store::open(fs.clone(), opts).await, Err(StoreError::LockBusy { .. })));
        assert!(names(&*fs).await.contains(&"sessions.json.lock".to_string()));
    });
}

#[test]
fn a_restarted_instance_with_the_same_seed_never_reuses_an_archived_id() {
    let fs = Arc::new(SimFs::new(SimOptions::default()));
    block_on(async {
        let first = Store::open(fs.clone(), StoreOptions::default()).await.unwrap();
        let old = first.create("a").await.unwrap();
        first.delete("a").await.unwrap();
        first.shutdown().await.unwrap();
        // Same seed: the id stream starts over, and its first id is archived on disk.
        let again = Store::open(fs.clone(), StoreOptions::default()).await.unwrap();
        let new = again.create("a").await.unwrap();
        assert_ne!(new, old);
    });
}
