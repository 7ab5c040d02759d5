// The marketplace: search listings (words, filters, sort, "more" pages by cursor),
// rate and install them, open one in full (ListingDetail); publish a listing (its
// content typed as JSON, or read from a Character Card); import a bundle (zip) a
// listing was exported as; admins approve pending versions.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, apiUpload } from "./api";
import { useT, useTn } from "./i18n";
import { ListingDetail, type Listing, type VersionRecord as Version } from "./MarketDetail";

interface Page { items: Listing[]; next_cursor: string | null }
interface Published { listing_id: string; version: string; status: string }

const KINDS = ["encounter", "template", "campaign", "persona"];
const WORLDS = ["gmod", "minecraft", "web"];

function message(e: unknown): string {
  const err = e as ApiError;
  return [err.message, ...(err.errors ?? [])].join("\n");
}

export function Marketplace({ apiKey, isAdmin }: { apiKey: string; isAdmin: boolean }) {
  const [text, setText] = useState("");
  const [kind, setKind] = useState("");
  const [world, setWorld] = useState("");
  const [sort, setSort] = useState("new");
  const [items, setItems] = useState<Listing[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const t = useT();
  const tn = useTn();

  const query = useCallback((next: string | null) => {
    const params = new URLSearchParams({ sort, limit: "10" });
    if (text.trim()) params.set("text", text.trim());
    if (kind) params.set("kind", kind);
    if (world) params.set("world", world);
    if (next) params.set("cursor", next);
    return `/market/search?${params.toString()}`;
  }, [text, kind, world, sort]);

  const latest = useRef(0); // the newest search: answers to older ones are dropped
  const search = useCallback(async (more: boolean) => {
    setError("");
    const asked = ++latest.current;
    try {
      const page = await api<Page>(apiKey, "GET", query(more ? cursor : null));
      if (asked !== latest.current) return;
      setItems(more ? (old) => [...old, ...page.items] : page.items);
      setCursor(page.next_cursor);
    } catch (e) {
      if (asked === latest.current) setError(message(e));
    }
  }, [apiKey, cursor, query]);

  useEffect(() => { void search(false); }, [apiKey]); // the first page, once signed in

  const act = async (work: () => Promise<string>): Promise<void> => {
    setError("");
    setStatus("");
    try {
      setStatus(await work());
    } catch (e) {
      setError(message(e));
    }
  };

  return (
    <section className="market" aria-labelledby="market-title">
      <h2 id="market-title">{t("nav.market")}</h2>
      <form className="market-search" role="search" onSubmit={(e) => { e.preventDefault(); void search(false); }}>
        <label className="field"><span>{t("market.search")}</span>
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder={t("market.searchHint")} />
        </label>
        <label className="field"><span>{t("market.kind")}</span>
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="">{t("market.anyKind")}</option>
            {KINDS.map((k) => <option key={k}>{k}</option>)}
          </select>
        </label>
        <label className="field"><span>{t("market.world")}</span>
          <select value={world} onChange={(e) => setWorld(e.target.value)}>
            <option value="">{t("market.anyWorld")}</option>
            {WORLDS.map((w) => <option key={w}>{w}</option>)}
          </select>
        </label>
        <label className="field"><span>{t("market.sort")}</span>
          <select value={sort} onChange={(e) => setSort(e.target.value)}>
            <option value="new">{t("market.sortNew")}</option>
            <option value="top">{t("market.sortTop")}</option>
            <option value="downloads">{t("market.sortDownloads")}</option>
          </select>
        </label>
        <button type="submit" className="primary">{t("market.search")}</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {status && <p className="ok" role="status">{status}</p>}
      <ul className="gallery" aria-label={t("market.listings")}>
        {items.map((l) => (
          <li key={l.id} className="card" aria-label={l.meta.title}>
            <strong>{l.meta.title}</strong>
            <span className="muted">
              {l.kind} · v{l.latest_version} · {l.rating === null ? t("market.unrated") : t("market.rating", { rating: l.rating.toFixed(1), count: String(l.ratings) })}
              {" · "}{tn("market.downloads", l.downloads)}
              {l.reputation !== null ? ` · ${t("market.reputation", { value: String(l.reputation) })}` : ""}
            </span>
            <span>{l.meta.preview || l.meta.description}</span>
            <span className="muted">{l.meta.worlds.join(", ")} · {l.meta.languages.join(", ")} · {l.meta.licence}</span>
            <Rate onRate={(stars) => act(async () => {
              await api(apiKey, "POST", `/market/listings/${encodeURIComponent(l.id)}/ratings`, { rating: stars });
              return t("market.rated", { title: l.meta.title, stars: String(stars) });
            })} title={l.meta.title} />
            <button type="button" onClick={() => act(async () => {
              const done = await api<{ installed: string[] }>(apiKey, "POST", `/market/listings/${encodeURIComponent(l.id)}/install`);
              return t("market.installed", { items: done.installed.join(", ") });
            })}>{t("market.install", { title: l.meta.title })}</button>
            <button type="button" onClick={() => setOpen(l.id)}>{t("market.open", { title: l.meta.title })}</button>
          </li>
        ))}
      </ul>
      {items.length === 0 && !error && <p className="muted">{t("market.none")}</p>}
      {cursor && <button type="button" onClick={() => void search(true)}>{t("market.more")}</button>}
      {open && (
        <ListingDetail key={open} apiKey={apiKey} isAdmin={isAdmin} listingId={open} act={act}
          onChanged={() => search(false)} onClose={() => setOpen(null)} />
      )}
      <label className="field"><span>{t("market.importBundle")}</span>
        <input type="file" accept=".zip,application/zip" onChange={(e) => {
          const file = e.target.files?.[0];
          e.target.value = "";
          if (file) void act(async () => {
            const done = await apiUpload<{ installed: string[] }>(apiKey, "/market/bundles/install", await file.arrayBuffer());
            return t("market.imported", { items: done.installed.join(", ") });
          });
        }} />
      </label>
      <Publish apiKey={apiKey} onDone={(p) => { setStatus(t("market.published", { id: p.listing_id, version: p.version, status: p.status })); void search(false); }} />
      {isAdmin && <Pending apiKey={apiKey} onDone={(s) => { setStatus(s); void search(false); }} />}
    </section>
  );
}

function Rate({ onRate, title }: { onRate: (stars: number) => void; title: string }) {
  const [stars, setStars] = useState(5);
  const t = useT();
  return (
    <span className="rate">
      <label>{t("market.ratingFor", { title })}{" "}
        <select value={stars} onChange={(e) => setStars(Number(e.target.value))}>
          {[5, 4, 3, 2, 1].map((n) => <option key={n} value={n}>{n}★</option>)}
        </select>
      </label>
      <button type="button" onClick={() => onRate(stars)}>{t("market.rate", { title })}</button>
    </span>
  );
}

function Publish({ apiKey, onDone }: { apiKey: string; onDone: (p: Published) => void }) {
  const [kind, setKind] = useState("encounter");
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [tags, setTags] = useState("");
  const [worlds, setWorlds] = useState<string[]>(["any"]);
  const [content, setContent] = useState("");
  const [error, setError] = useState("");
  const t = useT();
  const readCard = async (file: File) => {
    setError("");
    try {
      const card = await apiUpload<{ persona: { name: string; description?: string } }>(apiKey, "/market/cards/read", await file.arrayBuffer());
      setKind("persona");
      setTitle(card.persona.name);
      setDescription(card.persona.description ?? "");
      setContent(JSON.stringify(card, null, 2));
    } catch (e) {
      setError(message(e));
    }
  };
  const submit = async () => {
    setError("");
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch (e) {
      setError(t("market.notJson", { problem: (e as Error).message }));
      return;
    }
    const meta = { title, description, worlds, tags: tags.split(",").map((t) => t.trim()).filter(Boolean) };
    try {
      onDone(await api<Published>(apiKey, "POST", "/market/listings", { kind, meta, content: parsed }));
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <form className="node-form" aria-label={t("market.publish")} onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <h3>{t("market.publish")}</h3>
      <label className="field"><span>{t("market.importCard")}</span>
        <input type="file" accept=".json,.png,application/json,image/png" onChange={(e) => {
          const file = e.target.files?.[0];
          e.target.value = "";
          if (file) void readCard(file);
        }} />
      </label>
      <label className="field"><span>{t("market.kind")}</span>
        <select value={kind} onChange={(e) => setKind(e.target.value)}>{KINDS.map((k) => <option key={k}>{k}</option>)}</select>
      </label>
      <label className="field"><span>{t("market.title")}</span><input value={title} onChange={(e) => setTitle(e.target.value)} required /></label>
      <label className="field"><span>{t("market.description")}</span><textarea value={description} onChange={(e) => setDescription(e.target.value)} /></label>
      <label className="field"><span>{t("market.tags")}</span><input value={tags} onChange={(e) => setTags(e.target.value)} /></label>
      <fieldset className="field"><legend>{t("market.worlds")}</legend>
        {["any", ...WORLDS].map((w) => (
          <label key={w}><input type="checkbox" checked={worlds.includes(w)}
            onChange={(e) => setWorlds(e.target.checked ? [...worlds, w] : worlds.filter((x) => x !== w))} /> {w}</label>
        ))}
      </fieldset>
      <label className="field"><span>{t("market.content")}</span><textarea rows={6} value={content} onChange={(e) => setContent(e.target.value)} required /></label>
      {error && <p className="error" role="alert">{error}</p>}
      <button type="submit" className="primary">{t("market.publishListing")}</button>
    </form>
  );
}

function Pending({ apiKey, onDone }: { apiKey: string; onDone: (status: string) => void }) {
  const [pending, setPending] = useState<Version[]>([]);
  const [error, setError] = useState("");
  const t = useT();
  const load = useCallback(() => {
    api<Version[]>(apiKey, "GET", "/market/pending").then(setPending).catch((e) => setError(message(e)));
  }, [apiKey]);
  useEffect(load, [load]);
  const approve = async (v: Version) => {
    try {
      await api(apiKey, "POST", `/market/listings/${encodeURIComponent(v.listing_id)}/versions/${encodeURIComponent(v.version)}/approve`);
      onDone(t("market.approved", { title: v.meta.title, version: v.version }));
      load();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <section aria-labelledby="pending-title">
      <h3 id="pending-title">{t("market.pending")}</h3>
      <button type="button" onClick={load}>{t("market.refresh")}</button>
      {error && <p className="error" role="alert">{error}</p>}
      {pending.length === 0 && <p className="muted">{t("market.nothingPending")}</p>}
      <ul>
        {pending.map((v) => (
          <li key={`${v.listing_id}@${v.version}`}>
            {v.meta.title} {v.version}{" "}
            <button type="button" onClick={() => void approve(v)}>{t("market.approve", { title: v.meta.title })}</button>
          </li>
        ))}
      </ul>
    </section>
  );
}
