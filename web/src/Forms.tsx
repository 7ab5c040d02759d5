// The selected node's form: ObjectiveEditor, NPC form, dialogue line, reward, encounter.
import type { ReactNode } from "react";
import { CATEGORIES, type Encounter, OBJECTIVE_KINDS, REWARD_KINDS } from "./api";
import { useT } from "./i18n";

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
  const t = useT();
  const [kind, a, b] = node.split(":");
  const i = Number(a);
  const remove = (label: string, change: (e: Encounter) => Encounter) => (
    <button type="button" className="danger" onClick={() => { update(change); onDeleted(); }}>
      {t(label)}
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
      <form className="node-form" aria-label={t("form.objective")} onSubmit={(e) => e.preventDefault()}>
        <h3>{t("form.objectiveN", { n: i + 1 })}</h3>
        <div className="row">
          <button type="button" disabled={i === 0} onClick={() => onReorder(i, i - 1)}>{t("form.moveUp")}</button>
          <button type="button" disabled={i === encounter.objectives.length - 1} onClick={() => onReorder(i, i + 1)}>{t("form.moveDown")}</button>
        </div>
        <Text name="id" label={t("form.id")} value={o.id} onChange={rename} />
        <Text name="description" label={t("form.description")} value={o.description} onChange={(v) => set({ description: v })} />
        <Pick name="kind" label={t("form.kind")} value={o.kind} options={OBJECTIVE_KINDS} onChange={(v) => set({ kind: v })} />
        <Text name="target" label={t("form.target")} value={o.target} onChange={(v) => set({ target: v })} />
        <Num name="quantity" label={t("form.quantity")} value={o.quantity} onChange={(v) => set({ quantity: v })} />
        <label className="check"><input id="field-optional" type="checkbox" checked={o.optional} onChange={(e) => set({ optional: e.target.checked })} /> {t("form.optional")}</label>
        {others.length > 0 && (
          <fieldset id="field-requires" tabIndex={-1}>
            <legend>{t("form.requires")}</legend>
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
        {remove("form.deleteObjective", (e) => ({
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
      <form className="node-form" aria-label={t("form.npc")} onSubmit={(e) => e.preventDefault()}>
        <h3>{t("form.npc")}</h3>
        <Text name="id" label={t("form.id")} value={n.id} onChange={(v) => set({ id: v })} />
        <Text name="name" label={t("form.name")} value={n.name} onChange={(v) => set({ name: v })} />
        <Text name="role" label={t("form.role")} value={n.role} onChange={(v) => set({ role: v })} />
        <Text
          name="personality_traits"
          label={t("form.traits")}
          value={n.personality_traits.join(", ")}
          onChange={(v) => set({ personality_traits: v.split(",").map((s) => s.trim()).filter(Boolean) })}
        />
        <button type="button" onClick={() => set({ dialogue: [...n.dialogue, "Hello, traveller."] })}>{t("form.addLine")}</button>
        {remove("form.deleteNpc", (e) => ({ ...e, npcs: without(e.npcs, i) }))}
      </form>
    );
  }
  if (kind === "line" && encounter.npcs[i]?.dialogue[Number(b)] !== undefined) {
    const n = encounter.npcs[i];
    const j = Number(b);
    const setLines = (lines: string[]) => update((e) => ({ ...e, npcs: replace(e.npcs, i, { ...n, dialogue: lines }) }));
    return (
      <form className="node-form" aria-label={t("form.dialogueLine")} onSubmit={(e) => e.preventDefault()}>
        <h3>{t("form.lineN", { name: n.name, n: j + 1 })}</h3>
        <Text name="line" label={t("form.line")} value={n.dialogue[j]} onChange={(v) => setLines(replace(n.dialogue, j, v))} />
        <button type="button" className="danger" onClick={() => { setLines(without(n.dialogue, j)); onDeleted(); }}>{t("form.deleteLine")}</button>
      </form>
    );
  }
  const tree = kind === "tree" ? encounter.npcs[i]?.dialogue_tree ?? [] : [];
  if (kind === "tree" && tree[Number(b)]) {
    const n = encounter.npcs[i];
    const k = Number(b);
    const branch = tree[k];
    const setTree = (nodes: typeof tree) => update((e) => ({ ...e, npcs: replace(e.npcs, i, { ...n, dialogue_tree: nodes }) }));
    const setNode = (patch: Partial<typeof branch>) => setTree(replace(tree, k, { ...branch, ...patch }));
    return (
      <form className="node-form" aria-label={t("form.branch")} onSubmit={(e) => e.preventDefault()}>
        <h3>{t("form.branchTitle", { name: n.name, id: k === 0 ? t("form.start") : branch.id })}</h3>
        <Text name="id" label={t("form.id")} value={branch.id} onChange={(v) => setNode({ id: v })} />
        <Text name="text" label={t("form.says", { name: n.name })} value={branch.text} onChange={(v) => setNode({ text: v })} />
        <fieldset>
          <legend>{t("form.answers")}</legend>
          <ul className="responses">
            {branch.responses.map((r, ri) => (
              <li key={ri}>
                <label className="field">
                  <span>{t("form.answerN", { n: ri + 1 })}</span>
                  <input value={r.text} onChange={(e) => setNode({ responses: replace(branch.responses, ri, { ...r, text: e.target.value }) })} />
                </label>
                <label className="field">
                  <span>{t("form.leadsTo")}</span>
                  <select value={r.next ?? ""} onChange={(e) => setNode({ responses: replace(branch.responses, ri, { ...r, next: e.target.value || null }) })}>
                    <option value="">{t("form.endsTalk")}</option>
                    {tree.map((x) => <option key={x.id} value={x.id}>{x.id}</option>)}
                  </select>
                </label>
                <button type="button" aria-label={t("form.removeAnswer", { n: ri + 1 })} onClick={() => setNode({ responses: without(branch.responses, ri) })}>✕</button>
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => setNode({ responses: [...branch.responses, { text: "Goodbye.", next: null }] })}>{t("form.addAnswer")}</button>
        </fieldset>
        <button type="button" className="danger" onClick={() => { setTree(without(tree, k)); onDeleted(); }}>{t("form.deleteBranch")}</button>
      </form>
    );
  }
  const choices = encounter.choices ?? [];
  if (kind === "choice" && choices[i]) {
    const c = choices[i];
    const set = (patch: Partial<typeof c>) => update((e) => ({ ...e, choices: replace(e.choices ?? [], i, { ...c, ...patch }) }));
    return (
      <form className="node-form" aria-label={t("form.choice")} onSubmit={(e) => e.preventDefault()}>
        <h3>{t("form.choice")}</h3>
        <Text name="id" label={t("form.id")} value={c.id} onChange={(v) => set({ id: v })} />
        <Text name="description" label={t("form.question")} value={c.description} onChange={(v) => set({ description: v })} />
        <fieldset>
          <legend>{t("form.options")}</legend>
          <ul className="responses">
            {c.options.map((o, oi) => (
              <li key={oi}>
                <Text name={`option-${oi}`} label={t("form.optionN", { n: oi + 1 })} value={o} onChange={(v) => set({ options: replace(c.options, oi, v) })} />
                <span />
                <button type="button" aria-label={t("form.removeOption", { n: oi + 1 })} onClick={() => set({ options: without(c.options, oi) })}>✕</button>
              </li>
            ))}
          </ul>
          <button type="button" disabled={c.options.length >= 8} onClick={() => set({ options: [...c.options, `Option ${c.options.length + 1}`] })}>{t("form.addOption")}</button>
        </fieldset>
        {remove("form.deleteChoice", (e) => ({ ...e, choices: without(e.choices ?? [], i) }))}
      </form>
    );
  }
  if (kind === "reward" && encounter.rewards[i]) {
    const r = encounter.rewards[i];
    const set = (patch: Partial<typeof r>) => update((e) => ({ ...e, rewards: replace(e.rewards, i, { ...r, ...patch }) }));
    return (
      <form className="node-form" aria-label={t("form.reward")} onSubmit={(e) => e.preventDefault()}>
        <h3>{t("form.reward")}</h3>
        <Pick name="kind" label={t("form.kind")} value={r.kind} options={REWARD_KINDS} onChange={(v) => set({ kind: v })} />
        <Num name="amount" label={t("form.amount")} value={r.amount} onChange={(v) => set({ amount: v })} />
        <Text name="item" label={t("form.item")} value={r.item ?? ""} onChange={(v) => set({ item: v || null })} />
        <Text name="faction" label={t("form.faction")} value={r.faction ?? ""} onChange={(v) => set({ faction: v || null })} />
        {remove("form.deleteReward", (e) => ({ ...e, rewards: without(e.rewards, i) }))}
      </form>
    );
  }
  const set = (patch: Partial<Encounter>) => update((e) => ({ ...e, ...patch }));
  return (
    <form className="node-form" aria-label={t("form.encounter")} onSubmit={(e) => e.preventDefault()}>
      <h3>{t("form.encounter")}</h3>
      <Text name="id" label={t("form.id")} value={encounter.id} onChange={(v) => set({ id: v })} />
      <Text name="title" label={t("form.title")} value={encounter.title} onChange={(v) => set({ title: v })} />
      <Text name="description" label={t("form.description")} value={encounter.description} onChange={(v) => set({ description: v })} />
      <Pick name="category" label={t("form.category")} value={encounter.category} options={CATEGORIES} onChange={(v) => set({ category: v })} />
      <Num name="difficulty" label={t("form.difficulty")} step={0.05} value={encounter.difficulty} onChange={(v) => set({ difficulty: v })} />
      <Num name="estimated_duration" label={t("form.duration")} value={encounter.estimated_duration} onChange={(v) => set({ estimated_duration: v })} />
    </form>
  );
}
