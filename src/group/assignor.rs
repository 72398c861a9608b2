//! The group leader's assignment of one flow's source partitions to members: sticky, balanced
//! by measured load, cooperative (a partition changes owner over two rounds, as in KIP-429).
//!
//! [`assign`] is pure and deterministic, in five steps:
//! 1. Current owner of each partition: the claim (a member's `owned`) with the highest
//!    `generation`, ties to the lower member id. Claims outside the universe are dropped.
//! 2. Weight of each partition: its owner's measured `load`; else any member's (the one that
//!    just released it), first by member id; else the mean of the measured ones; else 1.0.
//!    If every weight is zero (idle topics), every weight is 1.0 (counts are balanced).
//! 3. Partitions nobody owns (new, or their owner left) go heaviest first to the member with
//!    the least (load, count, id). Then, while a member has none and another has two or more,
//!    the one with the most gives one away.
//! 4. While it lowers the larger of the two loads by more than [`MIN_GAIN`] of a mean
//!    partition, move one partition from the most to the least loaded member, preferring
//!    moves that revoke nothing, then the largest gain, then the lowest partition.
//! 5. A partition whose target differs from its live current owner is held back: nobody gets
//!    it this round; its owner stops it and rejoins; next round it is unowned and step 3 places it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::metadata::{Assignment, MemberMetadata, TopicPartition, VERSION};

/// A move must lower the larger of the two members' loads by more than this share of the
/// mean partition weight, so the leader does not shuffle partitions over noise.
pub const MIN_GAIN: f64 = 0.1;
/// Reported loads are clamped to this (bytes/s) so sums stay finite.
const MAX_LOAD: f64 = 1e15;

/// One round's outcome.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Partitions per member; every member has an entry, possibly empty. Sorted.
    pub assignments: BTreeMap<String, Vec<TopicPartition>>,
    /// Partitions given to nobody this round because they leave a live owner.
    pub held_back: BTreeSet<TopicPartition>,
}

impl Plan {
    /// The SyncGroup assignment of every member for `generation`.
    pub fn to_assignments(&self, generation: i32, leader: &str) -> BTreeMap<String, Assignment> {
        let assignment = |partitions: &Vec<TopicPartition>| Assignment {
            version: VERSION,
            generation,
            partitions: partitions.clone(),
            leader_member: leader.to_owned(),
            revoked_pending: !self.held_back.is_empty(),
            leader_config_keys: BTreeMap::new(),
            leader_settings: BTreeMap::new(),
        };
        let members = self.assignments.iter();
        members.map(|(m, ps)| (m.clone(), assignment(ps))).collect()
    }
}

/// Computes this round's assignment of `universe` over `members` (see the module docs).
pub fn assign(
    universe: &BTreeSet<TopicPartition>,
    members: &BTreeMap<String, MemberMetadata>,
) -> Plan {
    let tps: Vec<&TopicPartition> = universe.iter().collect();
    let metas: Vec<&MemberMetadata> = members.values().collect();
    let index: BTreeMap<&TopicPartition, usize> =
        tps.iter().enumerate().map(|(i, tp)| (*tp, i)).collect();

    // 1. Current owners.
    let mut claims: Vec<Option<(i32, usize)>> = vec![None; tps.len()];
    for (m, meta) in metas.iter().enumerate() {
        for p in meta.owned.iter().filter_map(|tp| index.get(tp).copied()) {
            if claims[p].is_none_or(|(generation, _)| meta.generation > generation) {
                claims[p] = Some((meta.generation, m));
            }
        }
    }
    let current: Vec<Option<usize>> = claims.iter().map(|c| c.map(|(_, m)| m)).collect();

    // 2. Weights.
    let reported = |m: usize, p: usize| {
        let load = *metas[m].load.get(tps[p])?;
        (load.is_finite() && load >= 0.0).then(|| load.min(MAX_LOAD))
    };
    let measured: Vec<Option<f64>> = (0..tps.len())
        .map(|p| {
            let owners = current[p].and_then(|m| reported(m, p));
            owners.or_else(|| (0..metas.len()).find_map(|m| reported(m, p)))
        })
        .collect();
    let known: Vec<f64> = measured.iter().flatten().copied().collect();
    let fallback = if known.is_empty() {
        1.0
    } else {
        known.iter().sum::<f64>() / known.len() as f64
    };
    let mut weight: Vec<f64> = measured.iter().map(|l| l.unwrap_or(fallback)).collect();
    if weight.iter().all(|w| *w <= 0.0) {
        weight.fill(1.0);
    }
    let min_gain = MIN_GAIN * weight.iter().sum::<f64>() / tps.len().max(1) as f64;

    let mut st = State {
        weight: &weight,
        current: &current,
        held: vec![BTreeSet::new(); metas.len()],
        load: vec![0.0; metas.len()],
    };
    for (p, owner) in current.iter().enumerate() {
        if let Some(m) = *owner {
            st.give(p, None, m);
        }
    }

    // 3. Unowned partitions, then no empty member while another has two or more.
    let mut unowned: Vec<usize> = (0..tps.len()).filter(|p| current[*p].is_none()).collect();
    unowned.sort_by(|a, b| weight[*b].total_cmp(&weight[*a]).then(a.cmp(b)));
    for p in unowned {
        let key = |m: usize| (st.load[m], st.held[m].len());
        let to = (0..metas.len()).min_by(|a, b| {
            let (ka, kb) = (key(*a), key(*b));
            ka.0.total_cmp(&kb.0).then(ka.1.cmp(&kb.1))
        });
        if let Some(to) = to {
            st.give(p, None, to);
        }
    }
    while let Some(empty) = (0..metas.len()).find(|m| st.held[*m].is_empty()) {
        let most = (0..metas.len()).min_by_key(|m| std::cmp::Reverse(st.held[*m].len()));
        let Some(donor) = most else { break };
        if st.held[donor].len() < 2 {
            break;
        }
        let cheapest = st.held[donor].iter().copied().min_by(|a, b| {
            let cost = |p| st.cost(p, donor, empty);
            cost(*a)
                .cmp(&cost(*b))
                .then(weight[*a].total_cmp(&weight[*b]))
                .then(a.cmp(b))
        });
        if let Some(p) = cheapest {
            st.give(p, Some(donor), empty);
        }
    }

    // 4. Greedy load balancing. Each move strictly lowers the sum of squared loads, so this
    // ends; the bound only caps the work. It never empties a member: moving a member's only
    // partition to a less loaded one cannot lower the larger load.
    for _ in 0..4 * tps.len() + metas.len() {
        let (Some(hi), Some(lo)) = (
            extreme(&st.load, Ordering::Greater),
            extreme(&st.load, Ordering::Less),
        ) else {
            break;
        };
        let gain = |p: usize| st.load[hi] - (st.load[hi] - weight[p]).max(st.load[lo] + weight[p]);
        let best = st.held[hi]
            .iter()
            .copied()
            .filter(|p| gain(*p) > min_gain)
            .min_by(|a, b| {
                let cost = |p| st.cost(p, hi, lo);
                cost(*a)
                    .cmp(&cost(*b))
                    .then(gain(*b).total_cmp(&gain(*a)))
                    .then(a.cmp(b))
            });
        match best {
            Some(p) => st.give(p, Some(hi), lo),
            None => break,
        }
    }

    // 5. Hold back partitions that leave a live owner.
    let mut plan = Plan::default();
    for (m, id) in members.keys().enumerate() {
        let (stay, moving): (Vec<usize>, Vec<usize>) = st.held[m]
            .iter()
            .partition(|p| current[**p].is_none_or(|owner| owner == m));
        plan.held_back
            .extend(moving.into_iter().map(|p| tps[p].clone()));
        plan.assignments.insert(
            id.clone(),
            stay.into_iter().map(|p| tps[p].clone()).collect(),
        );
    }
    plan
}

/// The leader's working assignment: partition indices and total weight per member index.
struct State<'a> {
    weight: &'a [f64],
    current: &'a [Option<usize>],
    held: Vec<BTreeSet<usize>>,
    load: Vec<f64>,
}

impl State<'_> {
    fn give(&mut self, p: usize, from: Option<usize>, to: usize) {
        if let Some(from) = from {
            self.held[from].remove(&p);
            self.load[from] -= self.weight[p];
        }
        self.held[to].insert(p);
        self.load[to] += self.weight[p];
    }

    /// Change in the number of revocations if `p` moves from `from` to `to` (-1, 0 or 1).
    fn cost(&self, p: usize, from: usize, to: usize) -> i8 {
        let revokes = |m| i8::from(self.current[p].is_some_and(|owner| owner != m));
        revokes(to) - revokes(from)
    }
}

/// Index of the first greatest (`Greater`) or least (`Less`) value.
fn extreme(values: &[f64], want: Ordering) -> Option<usize> {
    (0..values.len()).reduce(|best, i| {
        if values[i].total_cmp(&values[best]) == want {
            i
        } else {
            best
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = BTreeMap<String, Vec<TopicPartition>>;

    fn universe(n: i32) -> BTreeSet<TopicPartition> {
        (0..n).map(|p| ("t".to_string(), p)).collect()
    }

    fn owned(pairs: &[(&str, std::ops::Range<i32>)]) -> Owned {
        let tps = |r: &std::ops::Range<i32>| r.clone().map(|p| ("t".to_string(), p)).collect();
        pairs.iter().map(|(m, r)| (m.to_string(), tps(r))).collect()
    }

    /// Members as a group would send them: last round's partitions at `generation`,
    /// each with its true load (1.0 unless listed).
    fn members(
        ids: &[&str],
        owned: &Owned,
        generation: i32,
        loads: &BTreeMap<TopicPartition, f64>,
    ) -> BTreeMap<String, MemberMetadata> {
        let meta = |id: &str| {
            let owned = owned.get(id).cloned().unwrap_or_default();
            let load = owned
                .iter()
                .map(|tp| (tp.clone(), loads.get(tp).copied().unwrap_or(1.0)))
                .collect();
            MemberMetadata {
                owned,
                generation,
                load,
                ..MemberMetadata::default()
            }
        };
        ids.iter().map(|id| (id.to_string(), meta(id))).collect()
    }

    /// No partition twice, nothing outside the universe, every partition assigned or held back.
    fn check_round(universe: &BTreeSet<TopicPartition>, plan: &Plan) {
        let mut seen = BTreeSet::new();
        for tp in plan.assignments.values().flatten() {
            assert!(seen.insert(tp.clone()), "{tp:?} assigned twice in {plan:?}");
            assert!(!plan.held_back.contains(tp));
        }
        seen.extend(plan.held_back.iter().cloned());
        assert_eq!(&seen, universe);
    }

    /// Runs rounds until the assignment is a fixed point; returns it and the rounds taken.
    fn converge(
        universe: &BTreeSet<TopicPartition>,
        ids: &[&str],
        mut owned: Owned,
        loads: &BTreeMap<TopicPartition, f64>,
    ) -> (Plan, i32) {
        let mut released = Owned::new();
        for round in 1..=8 {
            // Members also report the last load of partitions they released last round.
            let mut group = members(ids, &owned, round, loads);
            for (id, meta) in &mut group {
                for tp in released.get(id).into_iter().flatten() {
                    meta.load
                        .insert(tp.clone(), loads.get(tp).copied().unwrap_or(1.0));
                }
            }
            let plan = assign(universe, &group);
            check_round(universe, &plan);
            assert_eq!(plan, assign(universe, &group), "deterministic");
            for (id, tp) in plan
                .assignments
                .iter()
                .flat_map(|(id, ps)| ps.iter().map(move |tp| (id, tp)))
            {
                let other = group
                    .iter()
                    .find(|(m, meta)| *m != id && meta.owned.contains(tp));
                assert!(
                    other.is_none(),
                    "{tp:?} given to {id} while {other:?} still owns it"
                );
            }
            if plan.held_back.is_empty() && plan.assignments == owned {
                return (plan, round);
            }
            released = std::mem::replace(&mut owned, plan.assignments);
        }
        panic!("no fixed point after 8 rounds from {owned:?}");
    }

    fn counts(plan: &Plan) -> Vec<usize> {
        plan.assignments.values().map(Vec::len).collect()
    }

    #[test]
    fn fresh_group_of_three_gets_four_partitions_each() {
        let plan = assign(
            &universe(12),
            &members(&["a", "b", "c"], &Owned::new(), -1, &BTreeMap::new()),
        );
        check_round(&universe(12), &plan);
        assert_eq!(counts(&plan), [4, 4, 4]);
        assert!(plan.held_back.is_empty());
    }

    #[test]
    fn heavy_partition_owner_gets_fewer_other_partitions() {
        let loads = [(("t".to_string(), 0), 10.0)].into();
        let start = owned(&[("a", 0..4), ("b", 4..8), ("c", 8..12)]);
        let (plan, _) = converge(&universe(12), &["a", "b", "c"], start, &loads);
        let a = &plan.assignments["a"];
        assert!(
            a.contains(&("t".to_string(), 0)),
            "the heavy partition stays put: {plan:?}"
        );
        assert!(a.len() < plan.assignments["b"].len() && a.len() < plan.assignments["c"].len());
        let max = plan
            .assignments
            .values()
            .map(|ps| {
                ps.iter()
                    .map(|tp| loads.get(tp).copied().unwrap_or(1.0))
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        assert_eq!(max, 10.0, "{plan:?}");
    }

    #[test]
    fn fourth_member_takes_the_minimum_over_two_rounds() {
        let u = universe(12);
        let ids = ["a", "b", "c", "d"];
        let start = owned(&[("a", 0..4), ("b", 4..8), ("c", 8..12)]);
        let first = assign(&u, &members(&ids, &start, 3, &BTreeMap::new()));
        check_round(&u, &first);
        assert_eq!(first.held_back.len(), 3, "{first:?}");
        assert_eq!(counts(&first), [3, 3, 3, 0]);
        for (m, ps) in &first.assignments {
            assert!(
                ps.iter()
                    .all(|tp| start.get(m).is_some_and(|o| o.contains(tp))),
                "nobody gains a partition yet"
            );
        }
        assert!(
            first
                .to_assignments(4, "a")
                .values()
                .all(|a| a.revoked_pending)
        );

        let second = assign(&u, &members(&ids, &first.assignments, 4, &BTreeMap::new()));
        check_round(&u, &second);
        assert!(second.held_back.is_empty());
        assert_eq!(
            second.assignments["d"],
            first.held_back.iter().cloned().collect::<Vec<_>>()
        );
        assert_eq!(counts(&second), [3, 3, 3, 3]);
        let third = assign(&u, &members(&ids, &second.assignments, 5, &BTreeMap::new()));
        assert_eq!(
            third.assignments, second.assignments,
            "stable after two rounds"
        );
    }

    #[test]
    fn departed_members_partitions_go_to_survivors_at_once() {
        let start = owned(&[("a", 0..4), ("b", 4..8), ("c", 8..12)]);
        let plan = assign(
            &universe(12),
            &members(&["a", "b"], &start, 3, &BTreeMap::new()),
        );
        check_round(&universe(12), &plan);
        assert!(plan.held_back.is_empty());
        assert_eq!(counts(&plan), [6, 6]);
        for m in ["a", "b"] {
            assert!(
                start[m].iter().all(|tp| plan.assignments[m].contains(tp)),
                "survivors keep theirs"
            );
        }
    }

    #[test]
    fn balanced_group_is_left_alone() {
        let loads = [(("t".to_string(), 3), 1.3), (("t".to_string(), 5), 0.8)].into();
        let start = owned(&[("a", 0..4), ("b", 4..8), ("c", 8..12)]);
        let (plan, rounds) = converge(&universe(12), &["a", "b", "c"], start.clone(), &loads);
        assert_eq!((rounds, plan.assignments), (1, start));
    }

    #[test]
    fn stale_double_claim_goes_to_the_higher_generation() {
        let mut group = members(
            &["a", "b"],
            &owned(&[("a", 0..4), ("b", 4..8)]),
            7,
            &BTreeMap::new(),
        );
        let b = group.get_mut("b").unwrap();
        b.generation = 6;
        b.owned.insert(0, ("t".to_string(), 0));
        let plan = assign(&universe(8), &group);
        check_round(&universe(8), &plan);
        assert!(plan.held_back.is_empty());
        assert_eq!(plan.assignments, owned(&[("a", 0..4), ("b", 4..8)]));
    }

    #[test]
    fn partitions_outside_the_universe_are_dropped() {
        let mut start = owned(&[("a", 0..3), ("b", 3..8)]);
        start.get_mut("a").unwrap().push(("gone".to_string(), 0));
        let plan = assign(
            &universe(6),
            &members(&["a", "b"], &start, 2, &BTreeMap::new()),
        );
        check_round(&universe(6), &plan);
        assert!(plan.held_back.is_empty());
        assert_eq!(plan.assignments, owned(&[("a", 0..3), ("b", 3..6)]));
        let empty = assign(
            &BTreeSet::new(),
            &members(&["a", "b"], &start, 2, &BTreeMap::new()),
        );
        assert_eq!(counts(&empty), [0, 0]);
    }

    /// Random groups (xorshift, fixed seed): every round is valid, rounds reach a fixed point
    /// quickly, and at the fixed point nobody is empty while another member has two or more.
    #[test]
    fn random_groups_converge_to_valid_balanced_assignments() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let ids = ["m0", "m1", "m2", "m3", "m4", "m5"];
        for _ in 0..1000 {
            let n_members = 1 + next(ids.len() as u64) as usize;
            let n_parts = next(40) as i32;
            let u = universe(n_parts);
            let loads: BTreeMap<TopicPartition, f64> = u
                .iter()
                .map(|tp| {
                    (
                        tp.clone(),
                        [0.0, 1.0, 5.0, 100.0][next(4) as usize] + next(100) as f64 / 50.0,
                    )
                })
                .collect();
            let mut start = Owned::new();
            for p in 0..n_parts + 5 {
                if next(3) > 0 {
                    let m = ids[next(ids.len() as u64) as usize].to_string();
                    start.entry(m).or_default().push(("t".to_string(), p));
                }
            }
            let (plan, rounds) = converge(&u, &ids[..n_members], start, &loads);
            assert!(rounds <= 5, "{rounds} rounds");
            let c = counts(&plan);
            if n_parts as usize >= n_members {
                assert!(!(c.contains(&0) && c.iter().any(|n| *n >= 2)), "{c:?}");
            }
        }
    }
}
