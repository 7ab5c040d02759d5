// EncounterCanvas: the encounter as nodes (encounter, objectives in order, NPCs with their
// dialogue lines and branches, choices, rewards) and edges. Drag a kind from the palette onto the canvas to add
// one; drag nodes to arrange them (the layout is saved with the draft). Draw an edge from
// a node's handle to another node to set the objectives' order, a prerequisite or a
// dialogue answer (edges.ts says what each does); select an edge (click, or focus it and
// press Enter) and press Delete to remove it.
import { useCallback, useMemo, useState } from "react";
import {
  Background,
  type Connection,
  Controls,
  type Edge,
  type EdgeChange,
  Handle,
  type Node,
  type NodeChange,
  type NodeProps,
  Position,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
} from "@xyflow/react";
import type { Encounter } from "./api";
import { UNLOCKS } from "./edges";
import { type Translate, useT } from "./i18n";

export type Kind = "objective" | "npc" | "reward" | "line" | "branch" | "choice";
export type Layout = Record<string, { x: number; y: number }>;

/** The kinds the palette adds, each with its message key. */
export const PALETTE: { kind: Kind; label: string }[] = [
  { kind: "objective", label: "form.objective" },
  { kind: "npc", label: "form.npc" },
  { kind: "line", label: "form.dialogueLine" },
  { kind: "branch", label: "form.branch" },
  { kind: "choice", label: "form.choice" },
  { kind: "reward", label: "form.reward" },
];

/** The canvas node an error path points to: objectives[1].description -> objective:1. */
export function nodeForPath(path: string): { node: string; field: string } {
  const m = /^(objectives|npcs|rewards|choices)\[(\d+)\](?:\.(\w+))?(?:\[(\d+)\])?/.exec(path);
  if (!m) return { node: "encounter", field: path.split(/[.[]/)[0] || "title" };
  const kind = { objectives: "objective", npcs: "npc", rewards: "reward", choices: "choice" }[m[1] as "objectives"];
  if (m[1] === "choices" && m[3] === "options") return { node: `choice:${m[2]}`, field: `option-${m[4] ?? 0}` };
  if (m[1] === "npcs" && m[3] === "dialogue" && m[4] !== undefined) {
    return { node: `line:${m[2]}:${m[4]}`, field: "line" };
  }
  if (m[1] === "npcs" && m[3] === "dialogue_tree" && m[4] !== undefined) {
    return { node: `tree:${m[2]}:${m[4]}`, field: "text" };
  }
  return { node: `${kind}:${m[2]}`, field: m[3] ?? "" };
}

function defaultPosition(id: string): { x: number; y: number } {
  const [kind, a, b] = id.split(":");
  const i = Number(a ?? 0);
  if (kind === "encounter") return { x: 20, y: 20 };
  if (kind === "objective") return { x: 20 + i * 40, y: 130 + i * 90 };
  if (kind === "npc") return { x: 320, y: 130 + i * 170 };
  if (kind === "line") return { x: 560, y: 130 + i * 170 + Number(b) * 60 };
  if (kind === "tree") return { x: 820 + (Number(b) % 2) * 240, y: 130 + i * 170 + Number(b) * 70 };
  if (kind === "choice") return { x: 320 + i * 220, y: 640 };
  return { x: 20 + i * 200, y: 520 };
}

function buildGraph(enc: Encounter, layout: Layout, selected: string | null, errorNodes: Set<string>, t: Translate) {
  const nodes: Node[] = [];
  const edges: Edge[] = [];
  const add = (id: string, label: string, kind: string) =>
    nodes.push({
      id,
      type: kind === "objective" ? "objective" : kind === "encounter" ? "input" : undefined,
      position: layout[id] ?? defaultPosition(id),
      data: { label },
      selected: id === selected,
      className: `node node-${kind}${errorNodes.has(id) ? " node-error" : ""}`,
      ariaLabel: `${t(`canvas.kind.${kind}`)}: ${label}`,
    });
  const structure = { deletable: false, focusable: false };
  add("encounter", enc.title || t("canvas.untitled"), "encounter");
  let previous = "encounter";
  enc.objectives.forEach((o, i) => {
    const id = `objective:${i}`;
    add(id, `${i + 1}. ${o.description || t("canvas.noDescription")}`, "objective");
    edges.push({ id: `order:${previous}->${id}`, source: previous, target: id, label: t(i ? "canvas.edge.then" : "canvas.edge.first"), ...structure });
    previous = id;
  });
  const objectiveIndex = new Map(enc.objectives.map((o, i) => [o.id, i]));
  enc.objectives.forEach((o, j) => {
    (o.requires ?? []).forEach((r, n) => {
      const i = objectiveIndex.get(r);
      if (i === undefined) return;
      edges.push({
        id: `requires:${j}:${n}`,
        source: `objective:${i}`,
        sourceHandle: UNLOCKS,
        target: `objective:${j}`,
        label: t("canvas.edge.unlocks"),
        className: "edge-requires",
        ariaLabel: t("canvas.prereqLabel", { from: enc.objectives[i].id, to: o.id }),
      });
    });
  });
  enc.npcs.forEach((n, i) => {
    const id = `npc:${i}`;
    add(id, `${n.name || t("canvas.noName")} · ${n.role || "?"}`, "npc");
    edges.push({ id: `cast:${id}`, source: "encounter", target: id, animated: true, ...structure });
    let from = id;
    n.dialogue.forEach((line, j) => {
      const lid = `line:${i}:${j}`;
      add(lid, `“${line || "…"}”`, "line");
      edges.push({ id: `says:${from}->${lid}`, source: from, target: lid, label: t(j ? "canvas.edge.next" : "canvas.edge.says"), ...structure });
      from = lid;
    });
    const tree = n.dialogue_tree ?? [];
    const index = new Map(tree.map((node, k) => [node.id, `tree:${i}:${k}`]));
    tree.forEach((branch, k) => {
      const tid = `tree:${i}:${k}`;
      add(tid, `${branch.id}: ${branch.text || "…"}`, "branch");
      if (k === 0) edges.push({ id: `starts:${id}->${tid}`, source: id, target: tid, label: t("canvas.edge.talks"), ...structure });
      branch.responses.forEach((r, ri) => {
        const target = r.next ? index.get(r.next) : undefined;
        if (target) edges.push({ id: `reply:${tid}:${ri}`, source: tid, target, label: r.text || "…", className: "edge-reply" });
      });
    });
  });
  (enc.choices ?? []).forEach((c, i) => {
    const id = `choice:${i}`;
    add(id, `${c.description || t("canvas.noQuestion")} ${c.options.map((o) => `[${o}]`).join(" ")}`, "choice");
    edges.push({ id: `offers:${id}`, source: "encounter", target: id, label: t("canvas.edge.offers"), ...structure });
  });
  enc.rewards.forEach((r, i) => {
    const id = `reward:${i}`;
    add(id, `${r.amount} ${r.kind}${r.item ? ` (${r.item})` : ""}`, "reward");
    edges.push({ id: `grants:${previous}->${id}`, source: previous, target: id, label: t("canvas.edge.grants"), ...structure });
  });
  return { nodes, edges };
}

interface Props {
  encounter: Encounter;
  layout: Layout;
  selected: string | null;
  errorNodes: Set<string>;
  onSelect: (id: string | null) => void;
  onMove: (layout: Layout) => void;
  onDropKind: (kind: Kind, position: { x: number; y: number }) => void;
  onConnect: (edge: { source: string; target: string; sourceHandle: string | null }) => void;
  onDeleteEdge: (id: string) => void;
}

/** An objective: a target handle on top, and two source handles: order (bottom) and
 * prerequisite (right). */
function ObjectiveNode({ data }: NodeProps) {
  const t = useT();
  return (
    <>
      <Handle type="target" position={Position.Top} />
      {String(data.label)}
      <Handle type="source" position={Position.Bottom} id="then" title={t("canvas.order")} />
      <Handle
        type="source"
        position={Position.Right}
        id={UNLOCKS}
        className="handle-unlocks"
        title={t("canvas.prerequisite")}
      />
    </>
  );
}
const NODE_TYPES = { objective: ObjectiveNode };

function Inner(props: Props) {
  const { encounter, layout, selected, errorNodes, onSelect, onMove, onDropKind, onConnect, onDeleteEdge } = props;
  const flow = useReactFlow();
  const [selectedEdge, setSelectedEdge] = useState<string | null>(null);
  const t = useT();
  const graph = useMemo(
    () => buildGraph(encounter, layout, selected, errorNodes, t),
    [encounter, layout, selected, errorNodes, t],
  );
  const nodes = graph.nodes;
  const edges = useMemo(
    () => graph.edges.map((e) => (e.id === selectedEdge ? { ...e, selected: true } : e)),
    [graph, selectedEdge],
  );
  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    for (const c of changes) {
      if (c.type === "select") setSelectedEdge((now) => (c.selected ? c.id : now === c.id ? null : now));
    }
  }, []);
  const onNodesChange = useCallback(
    (changes: NodeChange[]) => {
      const moved: Layout = {};
      for (const c of changes) {
        if (c.type === "position" && c.position) moved[c.id] = c.position;
        if (c.type === "select" && c.selected) onSelect(c.id);
      }
      if (Object.keys(moved).length) onMove({ ...layout, ...moved });
    },
    [layout, onMove, onSelect],
  );
  return (
    <div
      className="canvas"
      data-testid="canvas"
      onKeyDown={(e) => {
        if ((e.key === "Delete" || e.key === "Backspace") && selectedEdge && !(e.target as HTMLElement).closest("input, textarea")) {
          e.preventDefault();
          onDeleteEdge(selectedEdge);
          setSelectedEdge(null);
        }
      }}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
      }}
      onDrop={(e) => {
        e.preventDefault();
        const kind = e.dataTransfer.getData("application/x-ae-node") as Kind;
        if (!kind) return;
        onDropKind(kind, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
      }}
    >
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={(c: Connection) => onConnect({ source: c.source, target: c.target, sourceHandle: c.sourceHandle ?? null })}
        onPaneClick={() => { onSelect(null); setSelectedEdge(null); }}
        deleteKeyCode={null}
        fitView
        fitViewOptions={{ maxZoom: 1 }}
        minZoom={0.2}
        aria-label={t("canvas.label")}
      >
        <Background />
        <Controls />
      </ReactFlow>
    </div>
  );
}

export function EncounterCanvas(props: Props) {
  return (
    <ReactFlowProvider>
      <Inner {...props} />
    </ReactFlowProvider>
  );
}

export function Palette({ onAdd }: { onAdd: (kind: Kind) => void }) {
  const t = useT();
  return (
    <div className="palette" role="toolbar" aria-label={t("canvas.palette")}>
      <span className="hint">{t("canvas.hint")}</span>
      {PALETTE.map((p) => (
        <button
          key={p.kind}
          type="button"
          draggable
          className={`palette-item node-${p.kind}`}
          data-testid={`palette-${p.kind}`}
          onDragStart={(e) => {
            e.dataTransfer.setData("application/x-ae-node", p.kind);
            e.dataTransfer.effectAllowed = "copy";
          }}
          onClick={() => onAdd(p.kind)}
        >
          + {t(p.label)}
        </button>
      ))}
    </div>
  );
}
