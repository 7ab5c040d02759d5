// What an edge drawn on the canvas (or deleted from it) does to the encounter. Node ids
// are positions: `encounter`, `objective:i`, `npc:i`, `line:i:j`, `tree:i:k`, `reward:i`.
//
// - objective A (bottom handle, "then") -> objective B: order; B moves to right after A
// - encounter -> objective B: order; B becomes the first objective
// - objective A (right handle, "unlocks") -> objective B: prerequisite; B requires A
// - dialogue branch A -> dialogue branch B of the same NPC: a new player answer in A
//   that leads to B
// Deleting a prerequisite edge removes the requirement; deleting an answer edge removes
// the answer. Order edges follow the list and cannot be deleted, only redrawn.
import type { Layout } from "./Canvas";
import type { Encounter, Objective } from "./api";

export interface Drawn {
  source: string;
  target: string;
  sourceHandle?: string | null;
}
export type Change =
  | { encounter: Encounter; layout: Layout; select: string; message: string }
  | { error: string };

export const UNLOCKS = "unlocks";
const MAX_RESPONSES = 8;
const MAX_REQUIRES = 20;

const name = (o: Objective) => `“${o.description || o.id}”`;

/** Objective `from` moved to index `to`; the layout follows the objectives it holds. */
export function moveObjective(e: Encounter, layout: Layout, from: number, to: number): { encounter: Encounter; layout: Layout } {
  const list = e.objectives.slice();
  const [moved] = list.splice(from, 1);
  list.splice(to, 0, moved);
  const next: Layout = {};
  for (const [id, at] of Object.entries(layout)) if (!id.startsWith("objective:")) next[id] = at;
  list.forEach((o, i) => {
    const old = layout[`objective:${e.objectives.indexOf(o)}`];
    if (old) next[`objective:${i}`] = old;
  });
  return { encounter: { ...e, objectives: list }, layout: next };
}

/** Whether objective `id` needs `needed` through its prerequisites, directly or not. */
function needs(e: Encounter, id: string, needed: string): boolean {
  const seen = new Set<string>();
  const todo = [id];
  while (todo.length) {
    const current = todo.pop() as string;
    if (current === needed) return true;
    if (seen.has(current)) continue;
    seen.add(current);
    todo.push(...(e.objectives.find((o) => o.id === current)?.requires ?? []));
  }
  return false;
}

const HOW =
  "Edges join objectives (from the bottom handle: order; from the right handle: " +
  "prerequisite) or two dialogue branches of one NPC (an answer).";

export function connect(e: Encounter, layout: Layout, c: Drawn): Change {
  const [sk, sa] = c.source.split(":");
  const [tk, ta, tb] = c.target.split(":");
  if (c.source === c.target) return { error: "An edge needs two different nodes." };
  if (tk === "objective" && (sk === "objective" || sk === "encounter")) {
    const to = Number(ta);
    const b = e.objectives[to];
    if (!b) return { error: HOW };
    if (sk === "objective" && c.sourceHandle === UNLOCKS) {
      const a = e.objectives[Number(sa)];
      if (!a) return { error: HOW };
      const requires = b.requires ?? [];
      if (requires.includes(a.id)) return { error: `${name(b)} already requires ${name(a)}.` };
      if (needs(e, a.id, b.id)) return { error: `${name(a)} already needs ${name(b)}: that edge would make a circle.` };
      if (requires.length >= MAX_REQUIRES) return { error: `An objective requires at most ${MAX_REQUIRES} others.` };
      const objectives = e.objectives.map((o, i) => (i === to ? { ...o, requires: [...requires, a.id] } : o));
      return { encounter: { ...e, objectives }, layout, select: c.target, message: `${name(b)} now needs ${name(a)} first` };
    }
    const from = sk === "encounter" ? -1 : Number(sa);
    if (from >= 0 && !e.objectives[from]) return { error: HOW };
    const index = to > from ? from + 1 : from;
    const text = sk === "encounter" ? "comes first" : `comes after ${name(e.objectives[from])}`;
    if (index === to) return { error: `${name(b)} already ${text}.` };
    const moved = moveObjective(e, layout, to, index);
    return { ...moved, select: `objective:${index}`, message: `${name(b)} ${text}` };
  }
  if (sk === "tree" && tk === "tree") {
    if (sa !== ta) return { error: "A dialogue answer leads to a branch of the same NPC." };
    const i = Number(sa);
    const npc = e.npcs[i];
    const tree = npc?.dialogue_tree ?? [];
    const k = Number(c.source.split(":")[2]);
    const from = tree[k];
    const to = tree[Number(tb)];
    if (!npc || !from || !to) return { error: HOW };
    if (from.responses.length >= MAX_RESPONSES) return { error: `A dialogue branch has at most ${MAX_RESPONSES} answers.` };
    const responses = [...from.responses, { text: "Go on.", next: to.id }];
    const dialogue_tree = tree.map((t, j) => (j === k ? { ...t, responses } : t));
    const npcs = e.npcs.map((n, j) => (j === i ? { ...n, dialogue_tree } : n));
    return { encounter: { ...e, npcs }, layout, select: c.source, message: `New answer in ${from.id}: leads to ${to.id}` };
  }
  return { error: HOW };
}

/** The change a deleted edge makes (edge ids as Canvas builds them). */
export function removeEdge(e: Encounter, id: string): { encounter: Encounter; message: string } | { error: string } {
  const parts = id.split(":");
  if (parts[0] === "requires") {
    const [j, r] = [Number(parts[1]), Number(parts[2])];
    const o = e.objectives[j];
    if (!o?.requires?.[r]) return { error: "That edge is gone already." };
    const gone = o.requires[r];
    const objectives = e.objectives.map((x, i) => (i === j ? { ...x, requires: (x.requires ?? []).filter((_, n) => n !== r) } : x));
    return { encounter: { ...e, objectives }, message: `${name(o)} no longer needs ${gone}` };
  }
  if (parts[0] === "reply") {
    const [i, k, ri] = [Number(parts[2]), Number(parts[3]), Number(parts[4])];
    const tree = e.npcs[i]?.dialogue_tree ?? [];
    const t = tree[k];
    if (!t?.responses[ri]) return { error: "That edge is gone already." };
    const dialogue_tree = tree.map((x, j) => (j === k ? { ...x, responses: x.responses.filter((_, n) => n !== ri) } : x));
    const npcs = e.npcs.map((n, j) => (j === i ? { ...n, dialogue_tree } : n));
    return { encounter: { ...e, npcs }, message: `Answer “${t.responses[ri].text}” removed from ${t.id}` };
  }
  if (parts[0] === "order") return { error: "Order edges follow the objectives' list: draw an edge from an objective's bottom handle to reorder." };
  return { error: "This edge shows how the encounter is built; delete the node instead." };
}
