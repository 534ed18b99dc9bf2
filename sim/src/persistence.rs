//! Persistence models: which disk images a crash after syscall k may leave.
//!
//! A [`Tracker`] replays the log of a `SimFs` under one [`Model`], keeping the durable state D
//! and the pending effects P; [`Tracker::images`] lists the images of a crash at that point.
//!
//! - [`Model::Process`]: kill -9. Everything completed survives; one image (V).
//! - [`Model::Ordered`]: a journaling filesystem (ext4 `data=ordered`, roughly). Every
//!   successful fsync, of a file or a directory, is a global barrier: all of P becomes durable.
//!   A crash leaves D plus any prefix of P, where the first write left out may persist torn at
//!   sector granularity: |P|+1 images plus torn variants.
//! - [`Model::Posix`]: the weakest guarantees. `fsync(file)` persists that inode's data only,
//!   `fsync(dir)` that directory's entry effects only. At a crash, each directory's pending entry
//!   effects persist as a prefix, directories independently (a cross-directory rename is an unlink
//!   in one and a link in the other); each pending data effect persists or not independently, a
//!   write possibly torn to any sector prefix. The count is exponential: up to
//!   [`ImageOptions::max_images`] combinations are enumerated, beyond that as many are sampled
//!   from a ChaCha stream seeded by [`ImageOptions::seed`], and [`ImageSet::exhaustive`] says which.
//!
//! Under every model a failed fsync drops the inode's pending data (`ordered`, `posix`); under
//! `process` it changes nothing, since the page cache keeps the data and survives a kill.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::candidate::{Base, Candidate, Walks};
use crate::disk::{Disk, Effect, Event, EventKind, Ino};
use crate::{Image, Kind};

/// A persistence model; see the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Model {
    Process,
    Ordered,
    Posix,
}

impl Model {
    /// Every model, strongest first.
    pub const ALL: [Model; 3] = [Model::Process, Model::Ordered, Model::Posix];

    pub fn name(self) -> &'static str {
        match self {
            Model::Process => "process",
            Model::Ordered => "ordered",
            Model::Posix => "posix",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown persistence model {s:?}: expected process, ordered or posix"))
    }
}

/// How crash images are enumerated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImageOptions {
    /// Sector size in bytes: a torn write persists a prefix ending on a multiple of it.
    /// Default: 512.
    pub sector_size: u64,
    /// Most combinations of pending effects enumerated exhaustively under `ordered` and
    /// `posix`; beyond it, this many are sampled (plus "nothing" and "everything"). Default: 4096.
    pub max_images: usize,
    /// Seed of the sampling stream (ChaCha8, one stream per crash point). Default: 0.
    pub seed: u64,
}

impl Default for ImageOptions {
    fn default() -> Self {
        Self { sector_size: 512, max_images: 4096, seed: 0 }
    }
}

/// A pending event that reached the platter in a crash image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Survivor {
    /// The event's sequence number in the log.
    pub seq: usize,
    /// For a torn write: how many of its bytes persisted.
    pub torn: Option<usize>,
}

/// The images of one crash point. They are kept as disks and built on demand ([`ImageSet::image`]):
/// a harness that already judged an image by its fingerprint never needs the tree.
#[derive(Clone, Debug)]
pub struct ImageSet {
    /// Distinct images, in a deterministic order (the first is always "nothing pending survived").
    disks: Vec<Disk>,
    /// For each image, the fewest pending events that produce it (empty under `process`, where
    /// nothing is pending: everything completed survives).
    pub survivors: Vec<Vec<Survivor>>,
    /// For each image, its [`Image::fingerprint`].
    pub fingerprints: Vec<u128>,
    /// Whether every combination was enumerated (false: sampled).
    pub exhaustive: bool,
    /// How many combinations of pending effects the model allows (saturating).
    pub combinations: u128,
}

impl ImageSet {
    /// How many distinct images.
    pub fn len(&self) -> usize {
        self.disks.len()
    }

    /// Whether there is none (never: a crash leaves at least the durable state).
    pub fn is_empty(&self) -> bool {
        self.disks.is_empty()
    }

    /// Image `i` (0-based, below [`ImageSet::len`]).
    pub fn image(&self, i: usize) -> Image {
        Image::of(&self.disks[i])
    }

    /// `SimFs::from_image(&self.image(i), options)`, without building the image.
    pub fn filesystem(&self, i: usize, options: crate::SimOptions) -> crate::SimFs {
        let (disk, next_ino) = self.disks[i].canonical();
        crate::SimFs::from_canonical(disk, next_ino, options)
    }

    /// Every image, in order.
    pub fn images(&self) -> Vec<Image> {
        self.disks.iter().map(Image::of).collect()
    }
}

/// Two sets are equal when they hold the same images in the same order, with the same survivors.
impl PartialEq for ImageSet {
    fn eq(&self, other: &Self) -> bool {
        self.images() == other.images()
            && self.survivors == other.survivors
            && self.exhaustive == other.exhaustive
            && self.combinations == other.combinations
    }
}

/// A pending effect, with the directories whose half of it has not persisted yet.
#[derive(Clone, Debug)]
struct Pending {
    seq: usize,
    effect: Arc<Effect>,
    dirs_left: Vec<Ino>,
}

/// The durable state and pending effects of one model, fed event by event.
#[derive(Clone, Debug)]
pub struct Tracker {
    model: Model,
    durable: Disk,
    pending: Vec<Pending>,
    events_seen: u64,
    /// The effects that reached D, by sequence number, when asked for ([`Tracker::noting_durable`]):
    /// a diagnosis rebuilds an image from them. `None` while exploring (trackers are cloned at
    /// every crash point, and this grows with the run).
    durable_seqs: Option<Vec<usize>>,
    /// Files of D that lost a name, kept across events while a pending effect still names them;
    /// forgotten once none does and no entry does ([`Tracker::forget_unnamed`]).
    unnamed: Vec<Ino>,
    /// The last walk of the durable disk, for the next crash point on the same one.
    walks: Walks,
}

impl Tracker {
    /// A tracker whose durable state is `initial` with nothing pending.
    pub fn new(model: Model, initial: &Image) -> Self {
        Self::from_disk(model, initial.to_disk().0)
    }

    pub(crate) fn from_disk(model: Model, durable: Disk) -> Self {
        Self {
            model,
            durable,
            pending: Vec::new(),
            events_seen: 0,
            durable_seqs: None,
            unnamed: Vec::new(),
            walks: Walks::default(),
        }
    }

    /// Copies D anew, its nodes and pages allocated together: a tracker moved on among other
    /// allocations (a run's, call by call) is walked at every crash image built on it after.
    pub(crate) fn compact(&mut self) {
        self.durable = self.durable.compacted();
    }

    /// This tracker, noting from now on which effects reach D ([`Tracker::durable_seqs`]).
    pub fn noting_durable(mut self) -> Self {
        self.durable_seqs = Some(Vec::new());
        self
    }

    /// The effects that reached D (whole, or a half of a cross-directory rename), in the order
    /// they did; `None` unless [`Tracker::noting_durable`] was asked before they were pushed.
    pub fn durable_seqs(&self) -> Option<&[usize]> {
        self.durable_seqs.as_deref()
    }

    fn note(&mut self, seq: usize) {
        if let Some(seqs) = &mut self.durable_seqs {
            seqs.push(seq);
        }
    }

    /// How many events were pushed. Two trackers of one run that saw as many events are in the
    /// same state and give the same images: a harness enumerates them once.
    pub fn events_seen(&self) -> u64 {
        self.events_seen
    }

    pub fn model(&self) -> Model {
        self.model
    }

    /// Feeds the next event of the log.
    pub fn push(&mut self, event: &Event) {
        self.events_seen += 1;
        match (&event.kind, self.model) {
            (EventKind::Effect(effect), Model::Process) => {
                self.unnamed.extend(self.durable.apply_unnaming(effect));
                self.note(event.seq);
            }
            (EventKind::Effect(effect), _) => self.pending.push(Pending {
                seq: event.seq,
                effect: Arc::new(effect.clone()),
                dirs_left: effect.dirs(),
            }),
            (EventKind::Sync { .. }, Model::Process) => {}
            (EventKind::Sync { ino, ok: false, .. }, _) => {
                let ino = *ino;
                self.pending.retain(|p| p.effect.data_ino() != Some(ino));
            }
            (EventKind::Sync { ok: true, .. }, Model::Ordered) => {
                for p in std::mem::take(&mut self.pending) {
                    self.unnamed.extend(self.durable.apply_unnaming(&p.effect));
                    self.note(p.seq);
                }
            }
            (EventKind::Sync { ino, kind: Kind::File, ok: true }, Model::Posix) => {
                let ino = *ino;
                let durable = &mut self.durable;
                let noted = &mut self.durable_seqs;
                self.pending.retain(|p| {
                    let synced = p.effect.data_ino() == Some(ino);
                    if synced {
                        durable.apply(&p.effect);
                        if let Some(seqs) = noted.as_mut() {
                            seqs.push(p.seq);
                        }
                    }
                    !synced
                });
            }
            (EventKind::Sync { ino, kind: Kind::Dir, ok: true }, Model::Posix) => {
                let dir = *ino;
                let durable = &mut self.durable;
                let noted = &mut self.durable_seqs;
                let unnamed = &mut self.unnamed;
                self.pending.retain_mut(|p| {
                    if let Some(at) = p.dirs_left.iter().position(|d| *d == dir) {
                        // The source half of a cross-directory rename unnames a file that its
                        // other half names (or will): `forget_unnamed` keeps it.
                        unnamed.extend(durable.apply_unnaming(&p.effect.half_in(dir)));
                        if let Some(seqs) = noted.as_mut() {
                            seqs.push(p.seq);
                        }
                        p.dirs_left.remove(at);
                        return !p.dirs_left.is_empty();
                    }
                    true
                });
                self.drop_invisible_data();
            }
        }
        if !self.unnamed.is_empty() {
            self.forget_unnamed();
        }
    }

    /// Forgets the files of D that lost their last name and that no pending effect names:
    /// nothing can name them again (a file is named only by its creation, a hard link or a
    /// rename of one of its names), so no crash image can show them, and keeping them would keep
    /// every version of a file rewritten by replacement (a registry rewritten at each change: the
    /// sum of its sizes). One still named (a hard link) is dropped from the candidates: it
    /// becomes one again when it loses that name.
    fn forget_unnamed(&mut self) {
        let pending = &self.pending;
        let durable = &mut self.durable;
        self.unnamed.retain(|&ino| {
            if pending.iter().any(|p| p.effect.ino() == ino) {
                return true;
            }
            if !durable.is_named(ino) {
                durable.forget(ino);
            }
            false
        });
    }

    /// Drops pending data of inodes no crash image can show: reachable in D neither from the
    /// root nor from an inode that a pending entry effect may still link (a lock file or temp
    /// file whose removal is durable). Without this, every such write would double the posix
    /// combinations for the rest of the run, all of them the same image.
    fn drop_invisible_data(&mut self) {
        let visible = self.durable.reachable_from(std::iter::once(crate::disk::ROOT).chain(self.linked()));
        self.pending.retain(|p| p.effect.data_ino().is_none_or(|ino| visible.contains(&ino)));
    }

    /// The objects pending entry effects may still link, in log order.
    fn linked(&self) -> impl Iterator<Item = Ino> + '_ {
        self.pending.iter().filter_map(|p| match &*p.effect {
            Effect::Link { ino, .. } | Effect::Rename { ino, .. } => Some(*ino),
            _ => None,
        })
    }

    /// Adds this tracker's durable tree and pending effects to a state fingerprint.
    pub(crate) fn canonical(&self, canon: &mut crate::state::Canon) {
        canon.disk_from(&self.durable, std::iter::once(crate::disk::ROOT).chain(self.linked()), None);
        for pending in &self.pending {
            canon.pending(&pending.effect, &pending.dirs_left);
        }
    }

    /// Sequence numbers of the events still pending.
    pub fn pending_seqs(&self) -> Vec<usize> {
        self.pending.iter().map(|p| p.seq).collect()
    }

    /// The durable state as an image (what survives if nothing pending does).
    pub fn durable_image(&self) -> Image {
        Image::of(&self.durable)
    }

    /// The images a crash at this point may leave.
    pub fn images(&self, opts: &ImageOptions) -> ImageSet {
        assert!(opts.sector_size > 0, "sector size must be positive");
        match self.model {
            Model::Process => ImageSet {
                fingerprints: vec![self.walks.fingerprint(&self.durable)],
                disks: vec![self.durable.clone()],
                survivors: vec![Vec::new()],
                exhaustive: true,
                combinations: 1,
            },
            Model::Ordered => self.ordered_images(opts),
            Model::Posix => self.posix_images(opts),
        }
    }

    /// The base of this crash point's candidate images: followed effect by effect when
    /// `follow` and there is an effect to follow (with none, the one candidate is D itself, and
    /// a plain walk is cheaper than the index a followed base builds).
    fn candidate_base(&self, follow: bool) -> Base<'_> {
        if follow && !self.pending.is_empty() {
            self.walks.base(&self.durable)
        } else {
            Base::walked(&self.durable)
        }
    }

    fn ordered_images(&self, opts: &ImageOptions) -> ImageSet {
        // A cut after each prefix of the pending effects, and each torn form of the next one.
        let torn: Vec<Vec<usize>> = self.pending.iter().map(|p| torn_sizes(&p.effect, opts.sector_size)).collect();
        let combinations: u128 = 1 + torn.iter().map(|t| 1 + t.len() as u128).sum::<u128>();
        let mut picks: Vec<(usize, Option<usize>)> = Vec::new();
        if combinations <= opts.max_images as u128 {
            for cut in 0..=self.pending.len() {
                picks.push((cut, None));
                picks.extend(torn.get(cut).into_iter().flatten().map(|&keep| (cut, Some(keep))));
            }
        } else {
            // Sampled as posix is: nothing, everything, and `max_images` drawn from one stream
            // per crash point.
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            rng.set_stream(self.events_seen);
            picks.push((0, None));
            picks.push((self.pending.len(), None));
            for _ in 0..opts.max_images {
                let cut = rng.random_range(0..=self.pending.len());
                let forms = torn.get(cut).map_or(0, Vec::len);
                let form = rng.random_range(0..=forms);
                picks.push((cut, (form < forms).then(|| torn[cut][form])));
            }
            picks.sort();
            picks.dedup();
        }
        let mut out = Distinct::default();
        let base = self.candidate_base(true);
        let mut disk = Candidate::new(&base);
        let mut kept = Vec::new();
        let mut applied = 0;
        for (cut, torn_keep) in picks {
            while applied < cut {
                let next = &self.pending[applied];
                disk.apply(&next.effect);
                kept.push(Survivor { seq: next.seq, torn: None });
                applied += 1;
            }
            match torn_keep {
                None => out.add(disk.clone(), kept.clone()),
                Some(keep) => {
                    let next = &self.pending[cut];
                    let mut torn = disk.clone();
                    torn.apply_torn(&next.effect, keep);
                    let mut with_torn = kept.clone();
                    with_torn.push(Survivor { seq: next.seq, torn: Some(keep) });
                    out.add(torn, with_torn);
                }
            }
        }
        out.finish(combinations <= opts.max_images as u128, combinations)
    }

    fn posix_images(&self, opts: &ImageOptions) -> ImageSet {
        let slots = PosixSlots::of(&self.pending, opts.sector_size);
        let combinations = slots.combinations();
        let mut out = Distinct::default();
        let exhaustive = combinations <= opts.max_images as u128;
        if exhaustive {
            // A candidate applies its chosen effects to the durable disk anew: following each
            // costs more than a walk once they are more than a few per file.
            let base = self.candidate_base(self.pending.len() * 16 <= self.durable.inodes.len());
            self.posix_choices(&slots, &base, &mut out);
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            rng.set_stream(self.events_seen);
            let mut choices = vec![vec![0; slots.radix.len()], slots.everything()];
            for _ in 0..opts.max_images {
                choices.push(slots.radix.iter().map(|&r| rng.random_range(0..r)).collect());
            }
            // Sampled choices share the prefixes of their longest directory queue: built along it.
            let base = self.candidate_base(true);
            for (candidate, survivors) in slots.along_spine(&base, &self.pending, &choices) {
                out.add(candidate, survivors);
            }
        }
        out.finish(exhaustive, combinations)
    }

    /// Every posix choice of `slots` that may add an image to `out`.
    fn posix_choices(&self, slots: &PosixSlots, base: &Base<'_>, out: &mut Distinct) {
        // Choices in mixed-radix order, slot 0 fastest: the data slots are the low digits,
        // the directory slots the high ones. A data effect on a file no name reaches under
        // the choice's directories changes no image, and the choice with that digit at 0
        // comes earlier and keeps fewer survivors: only visible data slots are enumerated,
        // which skips exactly the choices that would add nothing.
        let data_slots = slots.data.len();
        let mut dirs = vec![0usize; slots.radix.len() - data_slots];
        loop {
            let visible = slots.visible_data(&self.durable, &self.pending, &dirs);
            let radix: Vec<usize> = visible.iter().map(|&slot| slots.radix[slot]).collect();
            let mut digits = vec![0usize; visible.len()];
            let mut choice = vec![0usize; data_slots];
            choice.extend_from_slice(&dirs);
            loop {
                for (&slot, &digit) in visible.iter().zip(&digits) {
                    choice[slot] = digit;
                }
                out.add_choice(slots, base, &self.pending, &choice);
                if !next_choice(&mut digits, &radix) {
                    break;
                }
            }
            if !next_choice(&mut dirs, &slots.radix[data_slots..]) {
                break;
            }
        }
    }
}

/// The images a crash after the whole of `log` may leave, starting from `initial`.
pub fn crash_images(initial: &Image, log: &[Event], model: Model, opts: &ImageOptions) -> ImageSet {
    let mut tracker = Tracker::new(model, initial);
    for event in log {
        tracker.push(event);
    }
    tracker.images(opts)
}

/// How many bytes of a write a torn persist may keep: each sector boundary strictly inside it.
fn torn_sizes(effect: &Effect, sector: u64) -> Vec<usize> {
    let Effect::Write { offset, data, .. } = effect else {
        return Vec::new();
    };
    let end = offset + data.len() as u64;
    let mut sizes = Vec::new();
    let mut boundary = (offset / sector + 1) * sector;
    while boundary < end {
        sizes.push((boundary - offset) as usize);
        boundary += sector;
    }
    sizes
}

/// The independent choices of the posix model: one per directory (how long a prefix of its
/// entry effects persists) and one per data effect (absent, whole, or one of its torn sizes).
struct PosixSlots {
    /// Number of values of each slot.
    radix: Vec<usize>,
    /// For each directory with pending entries: its slot and its pending indexes, in order.
    dirs: BTreeMap<Ino, (usize, Vec<usize>)>,
    /// For each pending index holding a data effect: its slot and its torn sizes.
    data: BTreeMap<usize, (usize, Vec<usize>)>,
    /// For each pending index, each directory its entry effect has a half left in (in
    /// `dirs_left`'s order): the directory, its slot and the effect's position in its queue.
    halves: Vec<Vec<(Ino, usize, usize)>>,
}

impl PosixSlots {
    fn of(pending: &[Pending], sector: u64) -> Self {
        let mut queues: BTreeMap<Ino, Vec<usize>> = BTreeMap::new();
        let mut data = BTreeMap::new();
        let mut radix = Vec::new();
        let mut positions: Vec<Vec<(Ino, usize)>> = Vec::with_capacity(pending.len());
        for (index, p) in pending.iter().enumerate() {
            if p.effect.data_ino().is_some() {
                let torn = torn_sizes(&p.effect, sector);
                data.insert(index, (radix.len(), torn.clone()));
                radix.push(2 + torn.len());
            }
            let mut mine = Vec::with_capacity(p.dirs_left.len());
            for dir in &p.dirs_left {
                let queue = queues.entry(*dir).or_default();
                mine.push((*dir, queue.len()));
                queue.push(index);
            }
            positions.push(mine);
        }
        let dirs: BTreeMap<Ino, (usize, Vec<usize>)> = queues
            .into_iter()
            .map(|(dir, queue)| {
                let slot = radix.len();
                radix.push(queue.len() + 1);
                (dir, (slot, queue))
            })
            .collect();
        let halves = positions
            .into_iter()
            .map(|mine| mine.into_iter().map(|(dir, position)| (dir, dirs[&dir].0, position)).collect())
            .collect();
        Self { radix, dirs, data, halves }
    }

    fn combinations(&self) -> u128 {
        self.radix.iter().fold(1u128, |acc, &r| acc.saturating_mul(r as u128))
    }

    /// The choice in which every pending effect persists whole.
    fn everything(&self) -> Vec<usize> {
        let mut choice: Vec<usize> = self.radix.iter().map(|r| r - 1).collect();
        for (slot, _) in self.data.values() {
            choice[*slot] = 1;
        }
        choice
    }

    /// The data slots whose file a name reaches when each directory slot keeps the prefix
    /// `dirs` gives (the directory slots' digits, in slot order), in slot order.
    fn visible_data(&self, durable: &Disk, pending: &[Pending], dirs: &[usize]) -> Vec<usize> {
        if self.data.is_empty() {
            return Vec::new();
        }
        let first_dir_slot = self.data.len();
        let mut names = durable.clone();
        for (p, halves) in pending.iter().zip(&self.halves) {
            for &(dir, slot, position) in halves {
                if position < dirs[slot - first_dir_slot] {
                    names.apply(&p.effect.half_in(dir));
                }
            }
        }
        let reachable = names.reachable_from([crate::disk::ROOT]);
        self.data
            .iter()
            .filter(|(index, _)| pending[**index].effect.data_ino().is_some_and(|ino| reachable.contains(&ino)))
            .map(|(_, (slot, _))| *slot)
            .collect()
    }

    /// The image of one choice, and the pending events that survive in it.
    fn disk<'b>(&self, base: &'b Base<'b>, pending: &[Pending], choice: &[usize]) -> (Candidate<'b>, Vec<Survivor>) {
        let mut disk = Candidate::new(base);
        let survivors = self.apply(&mut disk, pending, choice, None);
        (disk, survivors)
    }

    /// Applies to `disk` the effects `choice` keeps, in log order, but for the entry effects of
    /// directory `skip` (applied already); returns the pending events that survive in it.
    fn apply(
        &self,
        disk: &mut Candidate<'_>,
        pending: &[Pending],
        choice: &[usize],
        skip: Option<Ino>,
    ) -> Vec<Survivor> {
        let mut survivors = Vec::new();
        for (index, p) in pending.iter().enumerate() {
            if let Some((slot, torn)) = self.data.get(&index) {
                match choice[*slot] {
                    0 => {}
                    1 => {
                        disk.apply(&p.effect);
                        survivors.push(Survivor { seq: p.seq, torn: None });
                    }
                    n => {
                        disk.apply_torn(&p.effect, torn[n - 2]);
                        survivors.push(Survivor { seq: p.seq, torn: Some(torn[n - 2]) });
                    }
                }
                continue;
            }
            let mut survived = false;
            for &(dir, slot, position) in &self.halves[index] {
                if position < choice[slot] {
                    if skip != Some(dir) {
                        disk.apply(&p.effect.half_in(dir));
                    }
                    survived = true;
                }
            }
            if survived {
                survivors.push(Survivor { seq: p.seq, torn: None });
            }
        }
        survivors
    }

    /// The image of each of `choices` and its survivors, as [`PosixSlots::disk`] makes them, in
    /// order. The directory with the longest queue (the spine: a prune's or a shutdown's
    /// thousands of renames) is followed once, prefix by prefix in the order of the choices'
    /// digits for it, and each candidate starts from its prefix. Entry effects of different
    /// directories, and data effects and entry effects, commute (a file's data does not depend
    /// on its names), so the disk is the one the log order gives.
    fn along_spine<'b>(
        &self,
        base: &'b Base<'b>,
        pending: &[Pending],
        choices: &[Vec<usize>],
    ) -> Vec<(Candidate<'b>, Vec<Survivor>)> {
        let Some((&spine, (slot, queue))) = self.dirs.iter().max_by_key(|(_, (_, queue))| queue.len()) else {
            return choices.iter().map(|choice| self.disk(base, pending, choice)).collect();
        };
        let mut order: Vec<usize> = (0..choices.len()).collect();
        order.sort_by_key(|&c| choices[c].get(*slot));
        let mut prefix = Candidate::new(base);
        let mut applied = 0;
        let mut built: Vec<Option<(Candidate<'b>, Vec<Survivor>)>> = choices.iter().map(|_| None).collect();
        for c in order {
            let choice = &choices[c];
            while applied < choice[*slot] {
                prefix.apply(&pending[queue[applied]].effect.half_in(spine));
                applied += 1;
            }
            let mut disk = prefix.clone();
            let survivors = self.apply(&mut disk, pending, choice, Some(spine));
            built[c] = Some((disk, survivors));
        }
        built.into_iter().map(|b| b.expect("every choice built")).collect()
    }
}

/// Advances a mixed-radix counter; false once it wrapped around.
fn next_choice(choice: &mut [usize], radix: &[usize]) -> bool {
    for (digit, &r) in choice.iter_mut().zip(radix) {
        *digit += 1;
        if *digit < r {
            return true;
        }
        *digit = 0;
    }
    false
}

/// Images in first-seen order without repeats, each with the fewest survivors that make it.
/// Most candidates repeat an image already seen, so membership is by fingerprint, taken by
/// walking the candidate disk; no image is built. The map only answers membership and
/// positions, so its hasher decides no order; it is fixed-key all the same.
#[derive(Default)]
struct Distinct {
    disks: Vec<Disk>,
    survivors: Vec<Vec<Survivor>>,
    fingerprints: Vec<u128>,
    index: HashMap<u128, usize, xxhash_rust::xxh3::Xxh3Builder>,
    /// Candidates built so far.
    built: u128,
}

impl Distinct {
    /// Adds the image of `disk`, reached by keeping `survivors`; of two ways to one image, the
    /// one with fewer survivors is kept.
    fn add(&mut self, candidate: Candidate<'_>, survivors: Vec<Survivor>) {
        let (disk, fingerprint) = candidate.finish();
        self.built += 1;
        match self.index.get(&fingerprint) {
            Some(&at) if survivors.len() < self.survivors[at].len() => self.survivors[at] = survivors,
            Some(_) => {}
            None => {
                self.index.insert(fingerprint, self.disks.len());
                self.fingerprints.push(fingerprint);
                self.disks.push(disk);
                self.survivors.push(survivors);
            }
        }
    }

    fn add_choice(&mut self, slots: &PosixSlots, base: &Base<'_>, pending: &[Pending], choice: &[usize]) {
        let (disk, survivors) = slots.disk(base, pending, choice);
        self.add(disk, survivors);
    }

    fn finish(self, exhaustive: bool, combinations: u128) -> ImageSet {
        ImageSet {
            disks: self.disks,
            survivors: self.survivors,
            fingerprints: self.fingerprints,
            exhaustive,
            combinations,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::{next_choice, Distinct, ImageOptions, Model, PosixSlots};
    use crate::{files, Fs, OpenOptions, SimFs, SimOptions};

    #[test]
    fn posix_images_skip_only_choices_that_add_nothing() {
        // Random runs over two directories, some syncs left out: at every crash point, the
        // images of every choice (the plain mixed-radix enumeration) are the posix images, in
        // the same order and with the same survivors; and random choices built along the
        // longest directory queue are the disks and survivors each makes alone.
        let names = ["a", "b", "d/a", "d/b", "e"];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (mut points, mut skipped) = (0, 0u128);
        for _ in 0..150 {
            let fs = SimFs::new(SimOptions::default());
            pollster::block_on(async {
                fs.mkdir("d").await.unwrap();
                for _ in 0..rng.random_range(1..9) {
                    let name = names[rng.random_range(0..names.len())];
                    let other = names[rng.random_range(0..names.len())];
                    let _ = match rng.random_range(0..6) {
                        0..=2 => {
                            let data = vec![b'x'; rng.random_range(1..1200)];
                            let sync = rng.random_range(0..3) == 0;
                            files::write(&fs, name, OpenOptions::create_trunc(), &data, sync).await
                        }
                        3 => fs.rename(name, other).await,
                        4 => fs.unlink(name).await,
                        _ => files::sync_dir(&fs, ["", "d"][rng.random_range(0..2)]).await,
                    };
                }
            });
            let opts = ImageOptions::default();
            for tracker in fs.trackers(Model::Posix, 0..=fs.steps()) {
                let slots = PosixSlots::of(&tracker.pending, opts.sector_size);
                if slots.combinations() > opts.max_images as u128 {
                    continue;
                }
                let base = tracker.candidate_base(false);
                let mut every = Distinct::default();
                let mut choice = vec![0usize; slots.radix.len()];
                loop {
                    every.add_choice(&slots, &base, &tracker.pending, &choice);
                    if !next_choice(&mut choice, &slots.radix) {
                        break;
                    }
                }
                // Sampled choices built along the spine are each the choice's own disk.
                let sampled: Vec<Vec<usize>> =
                    (0..8).map(|_| slots.radix.iter().map(|&r| rng.random_range(0..r)).collect()).collect();
                let followed = tracker.candidate_base(true);
                for ((spined, kept), choice) in
                    slots.along_spine(&followed, &tracker.pending, &sampled).into_iter().zip(&sampled)
                {
                    let (alone, alone_kept) = slots.disk(&base, &tracker.pending, choice);
                    let (spined, alone) = (spined.finish(), alone.finish());
                    assert_eq!(spined.1, alone.1, "choice {choice:?}");
                    assert_eq!(spined.0.fingerprint(), alone.1, "choice {choice:?}");
                    assert_eq!(kept, alone_kept, "choice {choice:?}");
                }
                let every = every.finish(true, slots.combinations());
                let mut built = Distinct::default();
                tracker.posix_choices(&slots, &base, &mut built);
                assert!(built.built <= slots.combinations());
                skipped += slots.combinations() - built.built;
                let images = built.finish(true, slots.combinations());
                assert_eq!(images.fingerprints, every.fingerprints);
                assert_eq!(images.survivors, every.survivors);
                points += 1;
            }
        }
        assert!(points > 1000 && skipped > 1000, "choices skipped at {points} points: {skipped}");
    }

    #[test]
    fn a_file_replaced_by_a_rename_is_forgotten_by_every_model() {
        // A registry rewritten by replacement, many times: D keeps the file that holds the name,
        // not every version that once did.
        let fs = SimFs::new(SimOptions::default());
        pollster::block_on(async {
            for i in 0..50u32 {
                files::write(&fs, "tmp", OpenOptions::create_trunc(), &i.to_le_bytes(), true).await.unwrap();
                fs.rename("tmp", "registry").await.unwrap();
                files::sync_dir(&fs, "").await.unwrap();
            }
        });
        let end = fs.steps();
        for model in Model::ALL {
            let tracker = fs.trackers(model, end..=end).pop().expect("one tracker");
            // The root and the registry.
            assert_eq!(tracker.durable.inodes.len(), 2, "{model}");
            let image = tracker.durable_image();
            assert_eq!(image.file("registry"), Some(&49u32.to_le_bytes()[..]), "{model}");
        }
    }

    #[test]
    fn a_file_moved_across_directories_is_kept_once_both_halves_persist() {
        // Posix: the target directory synced first, then the source, whose half unnames the file.
        let fs = SimFs::new(SimOptions::default());
        pollster::block_on(async {
            for dir in ["a", "b"] {
                fs.mkdir(dir).await.unwrap();
            }
            files::sync_dir(&fs, "").await.unwrap();
            files::write(&fs, "a/f", OpenOptions::create_trunc(), b"v", true).await.unwrap();
            files::sync_dir(&fs, "a").await.unwrap();
            fs.rename("a/f", "b/f").await.unwrap();
            files::sync_dir(&fs, "b").await.unwrap();
            files::sync_dir(&fs, "a").await.unwrap();
        });
        let end = fs.steps();
        for model in Model::ALL {
            let image = fs.trackers(model, end..=end).pop().expect("one tracker").durable_image();
            assert_eq!(image.file("b/f"), Some(&b"v"[..]), "{model}");
            assert!(!image.contains("a/f"), "{model}");
        }
    }

    #[test]
    fn a_replaced_file_with_another_name_is_kept() {
        let fs = SimFs::new(SimOptions::default());
        pollster::block_on(async {
            files::write(&fs, "registry", OpenOptions::create_trunc(), b"old", true).await.unwrap();
            fs.link("registry", "backup").await.unwrap();
            files::write(&fs, "tmp", OpenOptions::create_trunc(), b"new", true).await.unwrap();
            fs.rename("tmp", "registry").await.unwrap();
            files::sync_dir(&fs, "").await.unwrap();
        });
        let end = fs.steps();
        for model in Model::ALL {
            let image = fs.trackers(model, end..=end).pop().expect("one tracker").durable_image();
            assert_eq!(image.file("backup"), Some(&b"old"[..]), "{model}");
            assert_eq!(image.file("registry"), Some(&b"new"[..]), "{model}");
        }
    }
}
