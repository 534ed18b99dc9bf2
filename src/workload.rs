//! Workloads: what each client does (a sequence of operations), which process each client runs
//! in, and the exhaustive and concurrent sources.
//!
//! The exhaustive source lists every sequence of up to N operations of an alphabet, shortest
//! first (so the first violation found has the fewest operations); the concurrent one every
//! pair of such sequences over a concurrent alphabet, after a setup. (The session store's
//! alphabets, random source and text form are in `crashsim::session::workload`.)

use crashsim_model::Op;

/// The operations of each client, in order. Client `i` runs in process `i % processes`:
/// clients of one process share its store instance (and its in-process queue); processes
/// share only the disk. `setup` runs first, alone, in process 0 (the harness's calls, part of
/// the history); then every process reads the registry once, as a server does when it starts,
/// so that its cache holds what the setup made.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Workload<O = Op> {
    pub setup: Vec<O>,
    pub clients: Vec<Vec<O>>,
    pub processes: usize,
}

impl<O: Clone> Workload<O> {
    /// One client in one process.
    pub fn sequential(ops: Vec<O>) -> Self {
        Self { setup: Vec::new(), clients: vec![ops], processes: 1 }
    }

    /// Operations over all clients.
    pub fn len(&self) -> usize {
        self.clients.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The process client `client` runs in.
    pub fn process_of(&self, client: usize) -> usize {
        client % self.processes
    }

    /// Whether more than one client runs.
    pub fn is_concurrent(&self) -> bool {
        self.clients.len() > 1
    }

    /// Checks the shape: at least one client, at least one operation, 1 to `clients` processes.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients.is_empty() || self.is_empty() {
            return Err("the workload is empty: give at least one operation".to_string());
        }
        if self.processes == 0 || self.processes > self.clients.len() {
            return Err(format!(
                "{} process(es) for {} client(s): each process needs a client (1 to {} processes)",
                self.processes,
                self.clients.len(),
                self.clients.len()
            ));
        }
        Ok(())
    }

    /// The workload without client `client`'s operation `op` (and without the client, if that
    /// was its last); `None` if nothing would be left.
    pub fn without(&self, client: usize, op: usize) -> Option<Self> {
        let mut clients = self.clients.clone();
        clients[client].remove(op);
        if clients[client].is_empty() {
            clients.remove(client);
        }
        let processes = self.processes.min(clients.len());
        let shrunk = Self { setup: self.setup.clone(), clients, processes };
        (!shrunk.is_empty()).then_some(shrunk)
    }
}

impl<O: std::fmt::Display> std::fmt::Display for Workload<O> {
    /// Each client's operations separated by `; `, clients by ` || `.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, ops) in self.clients.iter().enumerate() {
            if i > 0 {
                f.write_str(" || ")?;
            }
            for (j, op) in ops.iter().enumerate() {
                write!(f, "{}{op}", if j > 0 { "; " } else { "" })?;
            }
        }
        Ok(())
    }
}

/// Every workload of one client with 1 to `max_ops` operations of `alphabet`, shortest first,
/// then in alphabet order.
pub fn exhaustive<O: Clone>(alphabet: &[O], max_ops: usize) -> Vec<Workload<O>> {
    sequences(alphabet, max_ops).into_iter().map(Workload::sequential).collect()
}

/// Every workload of two clients in `processes` processes (1 or 2), each with 1 to `ops_max`
/// operations of `alphabet`, after `setup`, fewest operations first. Clients are symmetric
/// (every process warms up after the setup), so each unordered pair comes once.
pub fn concurrent<O: Clone>(alphabet: &[O], setup: &[O], ops_max: usize, processes: usize) -> Vec<Workload<O>> {
    assert!((1..=2).contains(&processes), "concurrent workloads have two clients in one or two processes");
    let each = sequences(alphabet, ops_max);
    let mut all = Vec::new();
    for (i, first) in each.iter().enumerate() {
        for second in &each[i..] {
            all.push(Workload { setup: setup.to_vec(), clients: vec![first.clone(), second.clone()], processes });
        }
    }
    all.sort_by_key(Workload::len);
    all
}

/// Every sequence of 1 to `max_ops` operations of `alphabet`, shortest first.
fn sequences<O: Clone>(alphabet: &[O], max_ops: usize) -> Vec<Vec<O>> {
    let mut all = Vec::new();
    let mut layer: Vec<Vec<O>> = vec![Vec::new()];
    for _ in 0..max_ops {
        layer = layer
            .iter()
            .flat_map(|prefix| {
                alphabet.iter().map(move |op| {
                    let mut next = prefix.clone();
                    next.push(op.clone());
                    next
                })
            })
            .collect();
        all.extend(layer.iter().cloned());
    }
    all
}
