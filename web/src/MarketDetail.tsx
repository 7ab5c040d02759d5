// One marketplace listing in full: its version history (semver, status, date, content
// hash; deprecated versions marked, the owner deprecates one with a note), its reviews
// (written here; moderation may refuse the text, and its reason is shown), abuse reports
// on the listing or on one review, an admin's unlist (with a reason) and relist, and
// downloads: the listing as a bundle (zip) and, for persona listings, as a Character
// Card (JSON or PNG). Limits: the studio does not know which tag its key carries, so
// "Deprecate" is offered on every version and the daemon refuses callers that are not
// the owner (or an admin).
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, apiDownload } from "./api";
import { useT, useTn } from "./i18n";

export interface Meta { title: string; description: string; tags: string[]; category: string; worlds: string[]; languages: string[]; licence: string; preview: string }
export interface Listing {
  id: string; kind: string; owner: string; meta: Meta; latest_version: string | null; downloads: number;
  rating: number | null; ratings: number; reputation: number | null; unlisted?: string | null;
}
export interface VersionRecord {
  listing_id: string; version: string; status: string; meta: Meta; content_hash: string; created_at: string;
  content: Record<string, unknown>; changelog?: string; reason?: string | null; deprecated?: string | null;
}
interface Review { listing_id: string; user: string; rating: number; text: string; updated_at: string }

/** Runs a piece of work; its result is shown as the page's status, a failure as its error. */
export type Act = (work: () => Promise<string>) => Promise<void>;

export function ListingDetail({ apiKey, isAdmin, listingId, act, onChanged, onClose }: {
  apiKey: string; isAdmin: boolean; listingId: string; act: Act; onChanged: () => Promise<void>; onClose: () => void;
}) {
  const t = useT();
  const tn = useTn();
  const [listing, setListing] = useState<Listing | null>(null);
  const [versions, setVersions] = useState<VersionRecord[]>([]);
  const [reviews, setReviews] = useState<Review[]>([]);
  const [note, setNote] = useState("");
  const [stars, setStars] = useState(5);
  const [text, setText] = useState("");
  const [reportReason, setReportReason] = useState("");
  const [unlistReason, setUnlistReason] = useState("");
  const [newVersion, setNewVersion] = useState("");
  const [changelog, setChangelog] = useState("");
  const [content, setContent] = useState("");
  const path = `/market/listings/${encodeURIComponent(listingId)}`;

  const load = useCallback(async () => {
    const [l, v, r] = await Promise.all([
      api<Listing>(apiKey, "GET", path),
      api<VersionRecord[]>(apiKey, "GET", `${path}/versions`),
      api<Review[]>(apiKey, "GET", `${path}/reviews`),
    ]);
    setListing(l);
    setVersions(v);
    setReviews(r);
    const newest = v[0]; // the daemon lists versions newest first
    if (newest) setContent((old) => old || JSON.stringify(newest.content, null, 2));
  }, [apiKey, path]);

  useEffect(() => { void act(async () => { await load(); return ""; }); }, [load]); // eslint-disable-line react-hooks/exhaustive-deps

  const then = (work: () => Promise<string>) => act(async () => {
    const done = await work();
    await load();
    await onChanged();
    return done;
  });

  if (listing === null) return null;
  const title = listing.meta.title;
  const report = (reviewUser: string | null) => then(async () => {
    await api(apiKey, "POST", `${path}/reports`, { reason: reportReason, ...(reviewUser ? { review_user: reviewUser } : {}) });
    setReportReason("");
    return reviewUser ? t("market.reportedReview", { user: reviewUser }) : t("market.reported", { title });
  });

  return (
    <section className="market-detail" aria-label={t("market.detail", { title })}>
      <h3>{title}</h3>
      <button type="button" onClick={onClose}>{t("market.close")}</button>
      <p className="muted">
        {t("market.summary", { kind: listing.kind, owner: listing.owner, downloads: tn("market.downloads", listing.downloads) })}
      </p>
      {listing.unlisted && <p className="error">{t("market.unlistedBecause", { reason: listing.unlisted })}</p>}
      <p>{listing.meta.description}</p>

      <h4>{t("market.versions")}</h4>
      <label className="field"><span>{t("market.deprecateNote")}</span>
        <input value={note} onChange={(e) => setNote(e.target.value)} />
      </label>
      <table aria-label={t("market.versions")}>
        <thead>
          <tr><th>{t("market.version")}</th><th>{t("market.status")}</th><th>{t("market.date")}</th><th>{t("market.hash")}</th><th /></tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version}>
              <td>{v.version}</td>
              <td>
                {v.status}
                {v.deprecated != null && <strong> · {t("market.deprecated")}{v.deprecated ? `: ${v.deprecated}` : ""}</strong>}
                {v.reason ? ` · ${v.reason}` : ""}
              </td>
              <td>{new Date(v.created_at).toLocaleString()}</td>
              <td><code title={v.content_hash}>{v.content_hash.slice(0, 19)}</code></td>
              <td>
                {v.deprecated == null && v.status === "published" && (
                  <button type="button" onClick={() => void then(async () => {
                    await api(apiKey, "POST", `${path}/versions/${encodeURIComponent(v.version)}/deprecate`, { note });
                    setNote("");
                    return t("market.deprecatedDone", { version: v.version });
                  })}>{t("market.deprecate", { version: v.version })}</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <form aria-label={t("market.newVersion")} onSubmit={(e) => {
        e.preventDefault();
        void then(async () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(content);
          } catch (err) {
            throw new ApiError(0, t("market.notJson", { problem: (err as Error).message }));
          }
          const newest = versions[0];
          const meta = newest ? newest.meta : listing.meta;
          const done = await api<{ version: string; status: string }>(apiKey, "POST", `${path}/versions`,
            { kind: listing.kind, version: newVersion, changelog, meta, content: parsed });
          setNewVersion("");
          setChangelog("");
          return t("market.versionPublished", { version: done.version, status: done.status });
        });
      }}>
        <h4>{t("market.newVersion")}</h4>
        <label className="field"><span>{t("market.version")}</span>
          <input value={newVersion} onChange={(e) => setNewVersion(e.target.value)} placeholder="1.1.0" required />
        </label>
        <label className="field"><span>{t("market.changelog")}</span>
          <input value={changelog} onChange={(e) => setChangelog(e.target.value)} maxLength={2000} />
        </label>
        <label className="field"><span>{t("market.content")}</span>
          <textarea rows={6} value={content} onChange={(e) => setContent(e.target.value)} required />
        </label>
        <button type="submit">{t("market.publishVersion")}</button>
      </form>

      <h4>{t("market.export")}</h4>
      <button type="button" onClick={() => void act(async () => {
        const name = `${listing.id}-${listing.latest_version ?? "latest"}.zip`;
        await apiDownload(apiKey, `${path}/bundle`, name);
        return t("market.downloaded", { name });
      })}>{t("market.exportBundle")}</button>
      {listing.kind === "persona" && (["json", "png"] as const).map((format) => (
        <button key={format} type="button" onClick={() => void act(async () => {
          const name = `${listing.id}.card.${format}`;
          await apiDownload(apiKey, `${path}/card?format=${format}&spec=v3`, name);
          return t("market.downloaded", { name });
        })}>{t(format === "json" ? "market.exportCardJson" : "market.exportCardPng")}</button>
      ))}

      <h4>{t("market.reviews")}</h4>
      {reviews.length === 0 && <p className="muted">{t("market.noReviews")}</p>}
      <ul aria-label={t("market.reviews")}>
        {reviews.map((r) => (
          <li key={r.user} aria-label={t("market.reviewBy", { user: r.user })}>
            <strong>{"★".repeat(r.rating)}</strong> {r.user} · {new Date(r.updated_at).toLocaleDateString()}
            {r.text && <p>{r.text}</p>}
            <button type="button" onClick={() => void report(r.user)}>{t("market.reportReview", { user: r.user })}</button>
          </li>
        ))}
      </ul>
      <form aria-label={t("market.writeReview")} onSubmit={(e) => {
        e.preventDefault();
        void then(async () => {
          await api(apiKey, "POST", `${path}/ratings`, { rating: stars, text });
          setText("");
          return t("market.reviewed", { title, stars: String(stars) });
        });
      }}>
        <label className="field"><span>{t("market.stars")}</span>
          <select value={stars} onChange={(e) => setStars(Number(e.target.value))}>
            {[5, 4, 3, 2, 1].map((n) => <option key={n} value={n}>{n}★</option>)}
          </select>
        </label>
        <label className="field"><span>{t("market.reviewText")}</span>
          <textarea value={text} onChange={(e) => setText(e.target.value)} maxLength={2000} />
        </label>
        <button type="submit">{t("market.submitReview")}</button>
      </form>

      <h4>{t("market.report")}</h4>
      <label className="field"><span>{t("market.reportReason")}</span>
        <input value={reportReason} onChange={(e) => setReportReason(e.target.value)} maxLength={500} />
      </label>
      <button type="button" onClick={() => void report(null)}>{t("market.reportListing")}</button>

      {isAdmin && (
        <>
          <h4>{t("market.admin")}</h4>
          <label className="field"><span>{t("market.unlistReason")}</span>
            <input value={unlistReason} onChange={(e) => setUnlistReason(e.target.value)} maxLength={500} />
          </label>
          {listing.unlisted ? (
            <button type="button" onClick={() => void then(async () => {
              await api(apiKey, "POST", `${path}/relist`);
              return t("market.relisted", { title });
            })}>{t("market.relist")}</button>
          ) : (
            <button type="button" onClick={() => void then(async () => {
              await api(apiKey, "POST", `${path}/unlist`, { reason: unlistReason });
              setUnlistReason("");
              return t("market.unlisted", { title });
            })}>{t("market.unlist")}</button>
          )}
        </>
      )}
    </section>
  );
}
