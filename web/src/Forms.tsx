// The selected node's form: ObjectiveEditor, NPC form, dialogue line, reward, encounter.
import type { ReactNode } from "react";
import { CATEGORIES, type Encounter, OBJECTIVE_KINDS, REWARD_KINDS } from "./api";

type Update = (change: (e: Encounter) => Encounter) => void;

function Field({ label, name, children }: { label: string; name: string; children: ReactNode }) {
  return (
    <label className="field" htmlFor={`field-${name}`}>
      <span>{label}</span>
      {children}
    </label>
  );
}

function Text(props: { name: string; label: string; value: string; onChange: (v: string) => void }) {
  return (
    <Field label={props.label} name={props.name}>
      <input id={`field-${props.name}`} value={props.value} onChange={(e) => props.onChange(e.target.value)} />
    </Field>
  );
}

function Num(props: { name: string; label: string; value: number; step?: number; onChange: (v: number) => void }) {
  return (
    <Field label={props.label} name={props.name}>
      <input
        id={`field-${props.name}`}
        type="number"
        step={props.step ?? 1}
        value={Number.isFinite(props.value) ? props.value : ""}
        onChange={(e) => props.onChange(e.target.valueAsNumber)}
      />
    </Field>
  );
}

function Pick(props: { name: string; label: string; value: string; options: string[]; onChange: (v: string) => void }) {
  return (
    <Field label={props.label} name={props.name}>
      <select id={`field-${props.name}`} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        {props.options.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    </Field>
  );
}

const replace = <T,>(list: T[], i: number, item: T) => list.map((x, j) => (j === i ? item : x));
const without = <T,>(list: T[], i: number) => list.filter((_, j) => j !== i);

export function NodeForm({ node, encounter, update, onDeleted, onReorder }: {
  node: string; encounter: Encounter; update: Update; onDeleted: () => void;
  onReorder: (from: number, to: number) => void;
}) {
  const [kind, a, b] = node.split(":");
  const i = Number(a);
  const remove = (label: string, change: (e: Encounter) => Encounter) => (
    <button type="button" className="danger" onClick={() => { update(change); onDeleted(); }}>
      Delete {label}
    </button>
  );
  if (kind === "objective" && encounter.objectives[i]) {
    const o = encounter.objectives[i];
    const set = (patch: Partial<typeof o>) =>
      update((e) => ({ ...e, objectives: replace(e.objectives, i, { ...o, ...patch }) }));
    const requires = o.requires ?? [];
    // a renamed or deleted objective is renamed in, or dropped from, the others' prerequisites
    const rename = (id: string) =>
      update((e) => ({
        ...e,
        objectives: e.objectives.map((x, j) =>
          j === i ? { ...x, id } : { ...x, requires: x.requires?.map((r) => (r === o.id ? id : r)) },
        ),
      }));
    const others = encounter.objectives.filter((_, j) => j !== i);
    return (
      <form className="node-form" aria-label="Objective" onSubmit={(e) => e.preventDefault()}>
        <h3>Objective {i + 1}</h3>
        <div className="row">
          <button type="button" disabled={i === 0} onClick={() => onReorder(i, i - 1)}>Move up</button>
          <button type="button" disabled={i === encounter.objectives.length - 1} onClick={() => onReorder(i, i + 1)}>Move down</button>
        </div>
        <Text name="id" label="Id" value={o.id} onChange={rename} />
        <Text name="description" label="Description" value={o.description} onChange={(v) => set({ description: v })} />
        <Pick name="kind" label="Kind" value={o.kind} options={OBJECTIVE_KINDS} onChange={(v) => set({ kind: v })} />
        <Text name="target" label="Target" value={o.target} onChange={(v) => set({ target: v })} />
        <Num name="quantity" label="Quantity" value={o.quantity} onChange={(v) => set({ quantity: v })} />
        <label className="check"><input id="field-optional" type="checkbox" checked={o.optional} onChange={(e) => set({ optional: e.target.checked })} /> Optional</label>
        {others.length > 0 && (
          <fieldset id="field-requires" tabIndex={-1}>
            <legend>Needs done first (prerequisites)</legend>
            {others.map((x) => (
              <label className="check" key={x.id}>
                <input
                  type="checkbox"
                  checked={requires.includes(x.id)}
                  onChange={(e) => set({ requires: e.target.checked ? [...requires, x.id] : requires.filter((r) => r !== x.id) })}
                />{" "}
                {x.description || x.id}
              </label>
            ))}
          </fieldset>
        )}
        {remove("objective", (e) => ({
          ...e,
          objectives: without(e.objectives, i).map((x) => ({ ...x, requires: x.requires?.filter((r) => r !== o.id) })),
        }))}
      </form>
    );
  }
  if (kind === "npc" && encounter.npcs[i]) {
    const n = encounter.npcs[i];
    const set = (patch: Partial<typeof n>) => update((e) => ({ ...e, npcs: replace(e.npcs, i, { ...n, ...patch }) }));
    return (
      <form className="node-form" aria-label="NPC" onSubmit={(e) => e.preventDefault()}>
        <h3>NPC</h3>
        <Text name="id" label="Id" value={n.id} onChange={(v) => set({ id: v })} />
        <Text name="name" label="Name" value={n.name} onChange={(v) => set({ name: v })} />
        <Text name="role" label="Role" value={n.role} onChange={(v) => set({ role: v })} />
        <Text
          name="personality_traits"
          label="Personality traits (comma separated)"
          value={n.personality_traits.join(", ")}
          onChange={(v) => set({ personality_traits: v.split(",").map((t) => t.trim()).filter(Boolean) })}
        />
        <button type="button" onClick={() => set({ dialogue: [...n.dialogue, "Hello, traveller."] })}>Add dialogue line</button>
        {remove("NPC", (e) => ({ ...e, npcs: without(e.npcs, i) }))}
      </form>
    );
  }
  if (kind === "line" && encounter.npcs[i]?.dialogue[Number(b)] !== undefined) {
    const n = encounter.npcs[i];
    const j = Number(b);
    const setLines = (lines: string[]) => update((e) => ({ ...e, npcs: replace(e.npcs, i, { ...n, dialogue: lines }) }));
    return (
      <form className="node-form" aria-label="Dialogue line" onSubmit={(e) => e.preventDefault()}>
        <h3>{n.name}: line {j + 1}</h3>
        <Text name="line" label="Line" value={n.dialogue[j]} onChange={(v) => setLines(replace(n.dialogue, j, v))} />
        <button type="button" className="danger" onClick={() => { setLines(without(n.dialogue, j)); onDeleted(); }}>Delete line</button>
      </form>
    );
  }
  const tree = kind === "tree" ? encounter.npcs[i]?.dialogue_tree ?? [] : [];
  if (kind === "tree" && tree[Number(b)]) {
    const n = encounter.npcs[i];
    const k = Number(b);
    const t = tree[k];
    const setTree = (nodes: typeof tree) => update((e) => ({ ...e, npcs: replace(e.npcs, i, { ...n, dialogue_tree: nodes }) }));
    const setNode = (patch: Partial<typeof t>) => setTree(replace(tree, k, { ...t, ...patch }));
    return (
      <form className="node-form" aria-label="Dialogue branch" onSubmit={(e) => e.preventDefault()}>
        <h3>{n.name}: dialogue {k === 0 ? "(start)" : t.id}</h3>
        <Text name="id" label="Id" value={t.id} onChange={(v) => setNode({ id: v })} />
        <Text name="text" label={`${n.name} says`} value={t.text} onChange={(v) => setNode({ text: v })} />
        <fieldset>
          <legend>Player answers</legend>
          <ul className="responses">
            {t.responses.map((r, ri) => (
              <li key={ri}>
                <label className="field">
                  <span>Answer {ri + 1}</span>
                  <input value={r.text} onChange={(e) => setNode({ responses: replace(t.responses, ri, { ...r, text: e.target.value }) })} />
                </label>
                <label className="field">
                  <span>Leads to</span>
                  <select value={r.next ?? ""} onChange={(e) => setNode({ responses: replace(t.responses, ri, { ...r, next: e.target.value || null }) })}>
                    <option value="">(ends the talk)</option>
                    {tree.map((x) => <option key={x.id} value={x.id}>{x.id}</option>)}
                  </select>
                </label>
                <button type="button" aria-label={`Remove answer ${ri + 1}`} onClick={() => setNode({ responses: without(t.responses, ri) })}>✕</button>
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => setNode({ responses: [...t.responses, { text: "Goodbye.", next: null }] })}>Add answer</button>
        </fieldset>
        <button type="button" className="danger" onClick={() => { setTree(without(tree, k)); onDeleted(); }}>Delete branch</button>
      </form>
    );
  }
  const choices = encounter.choices ?? [];
  if (kind === "choice" && choices[i]) {
    const c = choices[i];
    const set = (patch: Partial<typeof c>) => update((e) => ({ ...e, choices: replace(e.choices ?? [], i, { ...c, ...patch }) }));
    return (
      <form className="node-form" aria-label="Choice" onSubmit={(e) => e.preventDefault()}>
        <h3>Choice</h3>
        <Text name="id" label="Id" value={c.id} onChange={(v) => set({ id: v })} />
        <Text name="description" label="Question" value={c.description} onChange={(v) => set({ description: v })} />
        <fieldset>
          <legend>Options (2 to 8)</legend>
          <ul className="responses">
            {c.options.map((o, oi) => (
              <li key={oi}>
                <Text name={`option-${oi}`} label={`Option ${oi + 1}`} value={o} onChange={(v) => set({ options: replace(c.options, oi, v) })} />
                <span />
                <button type="button" aria-label={`Remove option ${oi + 1}`} onClick={() => set({ options: without(c.options, oi) })}>✕</button>
              </li>
            ))}
          </ul>
          <button type="button" disabled={c.options.length >= 8} onClick={() => set({ options: [...c.options, `Option ${c.options.length + 1}`] })}>Add option</button>
        </fieldset>
        {remove("choice", (e) => ({ ...e, choices: without(e.choices ?? [], i) }))}
      </form>
    );
  }
  if (kind === "reward" && encounter.rewards[i]) {
    const r = encounter.rewards[i];
    const set = (patch: Partial<typeof r>) => update((e) => ({ ...e, rewards: replace(e.rewards, i, { ...r, ...patch }) }));
    return (
      <form className="node-form" aria-label="Reward" onSubmit={(e) => e.preventDefault()}>
        <h3>Reward</h3>
        <Pick name="kind" label="Kind" value={r.kind} options={REWARD_KINDS} onChange={(v) => set({ kind: v })} />
        <Num name="amount" label="Amount" value={r.amount} onChange={(v) => set({ amount: v })} />
        <Text name="item" label="Item" value={r.item ?? ""} onChange={(v) => set({ item: v || null })} />
        <Text name="faction" label="Faction" value={r.faction ?? ""} onChange={(v) => set({ faction: v || null })} />
        {remove("reward", (e) => ({ ...e, rewards: without(e.rewards, i) }))}
      </form>
    );
  }
  const set = (patch: Partial<Encounter>) => update((e) => ({ ...e, ...patch }));
  return (
    <form className="node-form" aria-label="Encounter" onSubmit={(e) => e.preventDefault()}>
      <h3>Encounter</h3>
      <Text name="id" label="Id" value={encounter.id} onChange={(v) => set({ id: v })} />
      <Text name="title" label="Title" value={encounter.title} onChange={(v) => set({ title: v })} />
      <Text name="description" label="Description" value={encounter.description} onChange={(v) => set({ description: v })} />
      <Pick name="category" label="Category" value={encounter.category} options={CATEGORIES} onChange={(v) => set({ category: v })} />
      <Num name="difficulty" label="Difficulty (0–1)" step={0.05} value={encounter.difficulty} onChange={(v) => set({ difficulty: v })} />
      <Num name="estimated_duration" label="Duration (minutes)" value={encounter.estimated_duration} onChange={(v) => set({ estimated_duration: v })} />
    </form>
  );
}
