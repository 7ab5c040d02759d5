// The studio's creator and operator flow: persona editor, deploy, moderation queue, live view.
import "./pages.css";

export { DeployPage } from "./deploy/DeployPage";
export { LiveView } from "./live/LiveView";
export { PersonaEditor } from "./persona/PersonaEditor";
export { ModerationQueue } from "./queue/ModerationQueue";

/** The session id when the studio is opened at /studio/session/{id}/live, else null. */
export function liveSessionOf(pathname: string): string | null {
  const m = /^\/studio\/session\/([^/]+)\/live\/?$/.exec(pathname);
  return m ? decodeURIComponent(m[1]) : null;
}
