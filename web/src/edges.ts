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
// What happened is said as a message key of the studio's catalogs with its values
// (`Note`), which the caller translates.
import type { Layout } from "./Canvas";
import type { Encounter, Objective } from "./api";

export interface Drawn {
  source: string;
  target: string;
  sourceHandle?: string | null;
}
/** A message of the studio's catalogs (web/src/i18n/locale) and its values. */
export interface Note { key: string; vars?: Record<string, string | number> }
export type Change =
  | { encounter: Encounter; layout: Layout; select: string; message: Note }
  | { error: Note };

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

const HOW: Note = { key: "edge.how" };

export function connect(e: Encounter, layout: Layout, c: Drawn): Change {
  const [sk, sa] = c.source.split(":");
  const [tk, ta, tb] = c.target.split(":");
  if (c.source === c.target) return { error: { key: "edge.twoNodes" } };
  if (tk === "objective" && (sk === "objective" || sk === "encounter")) {
    const to = Number(ta);
    const b = e.objectives[to];
    if (!b) return { error: HOW };
    if (sk === "objective" && c.sourceHandle === UNLOCKS) {
      const a = e.objectives[Number(sa)];
      if (!a) return { error: HOW };
      const requires = b.requires ?? [];
      if (requires.includes(a.id)) return { error: { key: "edge.alreadyRequires", vars: { b: name(b), a: name(a) } } };
      if (needs(e, a.id, b.id)) return { error: { key: "edge.circle", vars: { a: name(a), b: name(b) } } };
      if (requires.length >= MAX_REQUIRES) return { error: { key: "edge.maxRequires", vars: { max: MAX_REQUIRES } } };
      const objectives = e.objectives.map((o, i) => (i === to ? { ...o, requires: [...requires, a.id] } : o));
      return { encounter: { ...e, objectives }, layout, select: c.target, message: { key: "edge.nowNeeds", vars: { b: name(b), a: name(a) } } };
    }
    const from = sk === "encounter" ? -1 : Number(sa);
    if (from >= 0 && !e.objectives[from]) return { error: HOW };
    const index = to > from ? from + 1 : from;
    const vars = { b: name(b), a: sk === "encounter" ? "" : name(e.objectives[from]) };
    const first = sk === "encounter";
    if (index === to) return { error: { key: first ? "edge.alreadyFirst" : "edge.alreadyAfter", vars } };
    const moved = moveObjective(e, layout, to, index);
    return { ...moved, select: `objective:${index}`, message: { key: first ? "edge.first" : "edge.after", vars } };
  }
  if (sk === "tree" && tk === "tree") {
    if (sa !== ta) return { error: { key: "edge.sameNpc" } };
    const i = Number(sa);
    const npc = e.npcs[i];
    const tree = npc?.dialogue_tree ?? [];
    const k = Number(c.source.split(":")[2]);
    const from = tree[k];
    const to = tree[Number(tb)];
    if (!npc || !from || !to) return { error: HOW };
    if (from.responses.length >= MAX_RESPONSES) return { error: { key: "edge.maxAnswers", vars: { max: MAX_RESPONSES } } };
    const responses = [...from.responses, { text: "Go on.", next: to.id }];
    const dialogue_tree = tree.map((t, j) => (j === k ? { ...t, responses } : t));
    const npcs = e.npcs.map((n, j) => (j === i ? { ...n, dialogue_tree } : n));
    return { encounter: { ...e, npcs }, layout, select: c.source, message: { key: "edge.newAnswer", vars: { from: from.id, to: to.id } } };
  }
  return { error: HOW };
}

/** The change a deleted edge makes (edge ids as Canvas builds them). */
export function removeEdge(e: Encounter, id: string): { encounter: Encounter; message: Note } | { error: Note } {
  const parts = id.split(":");
  if (parts[0] === "requires") {
    const [j, r] = [Number(parts[1]), Number(parts[2])];
    const o = e.objectives[j];
    if (!o?.requires?.[r]) return { error: { key: "edge.gone" } };
    const gone = o.requires[r];
    const objectives = e.objectives.map((x, i) => (i === j ? { ...x, requires: (x.requires ?? []).filter((_, n) => n !== r) } : x));
    return { encounter: { ...e, objectives }, message: { key: "edge.noLongerNeeds", vars: { b: name(o), a: gone } } };
  }
  if (parts[0] === "reply") {
    const [i, k, ri] = [Number(parts[2]), Number(parts[3]), Number(parts[4])];
    const tree = e.npcs[i]?.dialogue_tree ?? [];
    const t = tree[k];
    if (!t?.responses[ri]) return { error: { key: "edge.gone" } };
    const dialogue_tree = tree.map((x, j) => (j === k ? { ...x, responses: x.responses.filter((_, n) => n !== ri) } : x));
    const npcs = e.npcs.map((n, j) => (j === i ? { ...n, dialogue_tree } : n));
    return { encounter: { ...e, npcs }, message: { key: "edge.answerRemoved", vars: { text: t.responses[ri].text, from: t.id } } };
  }
  if (parts[0] === "order") return { error: { key: "edge.orderFixed" } };
  return { error: { key: "edge.structural" } };
}
