// What the daemon's studio-flow API answers (persona screen, deploys, queue, live).

export const TOPICS = ["self_harm", "sexual", "politics", "violence", "hate", "personal_data"];
export const ACTIONS = ["chat", "move_to", "follow", "look_at", "emote", "use_entity", "interact", "equip", "use_item", "title", "stop"];
export const WORLDS = ["gmod", "minecraft", "web"] as const;
export type World = (typeof WORLDS)[number];

export interface Persona {
  name: string;
  description: string;
  traits: { tone: string; ethics: string; risk: string };
  goals: string[];
  memory_ref: string | null;
  safety: {
    blocked_topics: string[];
    max_actions_per_minute: number;
    allowed_actions: string[];
    moderation: "sanitize" | "block";
    context: "game" | "general";
  };
  voice: { id: string; rate: number } | null;
  embodiment: { avatar: string; emotes: string[] };
}

export function newPersona(): Persona {
  return {
    name: "",
    description: "",
    traits: { tone: "curious", ethics: "helper", risk: "low" },
    goals: [],
    memory_ref: null,
    safety: {
      blocked_topics: [...TOPICS],
      max_actions_per_minute: 20,
      allowed_actions: ["chat", "move_to", "follow", "look_at", "emote", "stop"],
      moderation: "sanitize",
      context: "game",
    },
    voice: null,
    embodiment: { avatar: "humanoid_a", emotes: ["wave"] },
  };
}

export interface Finding {
  field: string;
  decision: "allow" | "sanitize" | "block";
  reason: string | null;
  topic: string | null;
  categories: string[];
  words: string[];
}

export interface Screening {
  verdict: "invalid" | "rejected" | "pending_moderation";
  errors: string[];
  findings: Finding[];
}

export interface PersonaRecord {
  persona: Persona & { id: string; creator_id: string };
  status: "pending_moderation" | "rejected" | "approved";
  reasons: string[];
  submitted_at: string;
}

export interface WorldCatalog { world: World; avatars: string[]; emotes: string[] }
export interface LinkedServer { world: string; server_id: string; online: boolean; capabilities: string[] }

export type DeployState = "queued" | "spawning" | "live" | "ended" | "failed";
export interface DeployView {
  id: string;
  persona_id: string;
  persona_name: string;
  world: World;
  server_id: string;
  state: DeployState;
  step: string;
  reason: string | null;
  session_id: string | null;
  note: string | null;
  requested_at: string;
}

export interface QueueItem {
  persona_id: string;
  name: string;
  description: string;
  goals: string[];
  creator_id: string;
  status: string;
  why: "review" | "redeploy";
  submitted_at: string;
  findings: Finding[];
  blocked_topics: string[];
  allowed_actions: string[];
  max_actions_per_minute: number;
  deploy: DeployView | null;
}

export interface LiveItem {
  seq: number;
  at: string;
  kind: "event" | "player" | "action" | "rate_limit" | "other";
  type: string;
  decision: "allow" | "sanitize" | "block";
  reason: string | null;
  text: string;
  masked: string | null;
  action_id: string | null;
  latency_ms: number | null;
}

export interface SessionStatus {
  status: string;
  paused: boolean;
  actions_sent: number;
  actions_blocked: number;
  actions_done: number;
  actions_failed: number;
  events: number;
}

/** One finding in words: "description: profanity (“shit”) — would be rejected". */
export function describe(f: Finding, t: (key: string, vars?: Record<string, string>) => string): string {
  const what = f.topic && TOPICS.includes(f.topic) ? t(`topic.${f.topic}`) : f.topic ?? f.reason ?? f.categories.join(", ");
  const words = f.words.length ? ` (${f.words.map((w) => `“${w}”`).join(", ")})` : "";
  return t(f.decision === "block" ? "finding.refused" : "finding.flagged", { field: f.field, what, words });
}
