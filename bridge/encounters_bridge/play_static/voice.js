// @ts-check
// Companions' voices in the web world: a voiced line's signed audio link (the `audio`
// of a `say` in the room, PROTOCOL.md) played through Web Audio, panned and attenuated
// by where the companion stands relative to this tab's player (world.js `earshot`), and
// kept in place while either moves. The player's mute switch and volume are remembered
// in localStorage; a muted tab never fetches a line. Each companion speaks through one
// <audio> element: a new line from it replaces the one it was saying.
// Limits: the Web Audio graph needs the audio link to be CORS-readable (the daemon's
// /audio/ route allows any origin); browsers that block autoplay start the audio context
// at the player's next key press or click.

import { earshot } from './world.js'
import { t } from './i18n.js'

const SETTINGS = 'ae-play-voice'

/** @typedef {{url: string, duration: number, content_type: string}} Audio */
/** @typedef {{el: HTMLAudioElement, panner: StereoPannerNode, gain: GainNode, name: string}} Speaker */

/** The remembered switch and volume (0..1). @returns {{muted: boolean, volume: number}} */
export function loadSettings () {
  try {
    const raw = JSON.parse(localStorage.getItem(SETTINGS) ?? '{}')
    const volume = typeof raw.volume === 'number' && raw.volume >= 0 && raw.volume <= 1 ? raw.volume : 0.8
    return { muted: raw.muted === true, volume }
  } catch {
    return { muted: false, volume: 0.8 }
  }
}

export class Voices {
  /**
   * @param {object} o
   * @param {HTMLElement} o.shelf       where the <audio> elements live (hidden)
   * @param {(speaking: string[]) => void} o.onSpeaking  the names speaking now
   */
  constructor ({ shelf, onSpeaking }) {
    this.shelf = shelf
    this.onSpeaking = onSpeaking
    const { muted, volume } = loadSettings()
    this.muted = muted
    this.volume = volume
    /** @type {AudioContext | null} */
    this.ctx = null
    /** @type {GainNode | null} */
    this.master = null
    /** @type {Map<string, Speaker>} */
    this.speakers = new Map()
    /** @type {Set<string>} */
    this.speaking = new Set()
    const wake = () => { if (this.ctx && this.ctx.state === 'suspended') this.ctx.resume() }
    window.addEventListener('keydown', wake)
    window.addEventListener('pointerdown', wake)
  }

  save () {
    localStorage.setItem(SETTINGS, JSON.stringify({ muted: this.muted, volume: this.volume }))
  }

  /** @param {boolean} muted */
  setMuted (muted) {
    this.muted = muted
    this.save()
    if (muted) for (const sid of [...this.speakers.keys()]) this.silence(sid)
  }

  /** @param {number} volume 0..1 */
  setVolume (volume) {
    this.volume = Math.min(Math.max(volume, 0), 1)
    this.save()
    if (this.master) this.master.gain.value = this.volume
  }

  /** The audio graph, made at the first line (browsers allow it after a gesture). */
  graph () {
    if (!this.ctx) {
      this.ctx = new AudioContext()
      this.master = this.ctx.createGain()
      this.master.gain.value = this.volume
      this.master.connect(this.ctx.destination)
    }
    if (this.ctx.state === 'suspended') this.ctx.resume()
    return { ctx: this.ctx, master: /** @type {GainNode} */ (this.master) }
  }

  /** @param {string} sid @param {string} name */
  speaker (sid, name) {
    let s = this.speakers.get(sid)
    if (s) { s.name = name; return s }
    const { ctx, master } = this.graph()
    const el = document.createElement('audio')
    el.crossOrigin = 'anonymous'
    el.preload = 'auto'
    el.dataset.sid = sid
    el.setAttribute('aria-label', t("{name}'s voice", { name }))
    this.shelf.append(el)
    const panner = ctx.createStereoPanner()
    const gain = ctx.createGain()
    ctx.createMediaElementSource(el).connect(panner)
    panner.connect(gain)
    gain.connect(master)
    s = { el, panner, gain, name }
    const speaker = s
    el.addEventListener('playing', () => this.mark(sid, true))
    for (const end of ['ended', 'error', 'pause', 'emptied']) el.addEventListener(end, () => this.mark(sid, false))
    this.speakers.set(sid, speaker)
    return speaker
  }

  /** @param {string} sid @param {boolean} on */
  mark (sid, on) {
    const had = this.speaking.has(sid)
    if (on) this.speaking.add(sid)
    else this.speaking.delete(sid)
    if (had !== on) this.onSpeaking([...this.speaking].map((id) => this.speakers.get(id)?.name ?? ''))
  }

  /**
   * A companion says a voiced line: play it from where it stands (nothing when muted).
   * @param {string} sid @param {string} name @param {Audio} audio
   * @param {{x: number, y: number} | undefined} listener @param {{x: number, y: number}} source
   */
  play (sid, name, audio, listener, source) {
    if (this.muted) return
    const s = this.speaker(sid, name)
    this.place(s, listener, source)
    s.el.src = audio.url
    s.el.play().catch(() => this.mark(sid, false)) // a dead link: the text is in the chat
  }

  /** @param {Speaker} s @param {{x: number, y: number} | undefined} listener @param {{x: number, y: number}} source */
  place (s, listener, source) {
    const { pan, gain } = earshot(listener, source)
    s.panner.pan.value = pan
    s.gain.gain.value = gain
    s.el.dataset.pan = pan.toFixed(2) // where it is heard from, readable in the DOM
    s.el.dataset.gain = gain.toFixed(2)
  }

  /** Keep each speaking companion's voice where it is now (the tick calls this).
   * @param {(sid: string) => ({x: number, y: number} | undefined)} where
   * @param {{x: number, y: number} | undefined} listener */
  follow (where, listener) {
    for (const sid of this.speaking) {
      const s = this.speakers.get(sid)
      const at = where(sid)
      if (s && at) this.place(s, listener, at)
    }
  }

  /** @param {string} sid */
  silence (sid) {
    const s = this.speakers.get(sid)
    if (!s) return
    s.el.pause()
    s.el.removeAttribute('src')
    s.el.load()
  }
}
