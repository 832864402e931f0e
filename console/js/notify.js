// A new chat: a short chime made with WebAudio (no audio files), a desktop notification
// when the tab is hidden (once the agent allowed it), and the count in the tab title.

let audio = null;
let muted = localStorage.getItem("chatdesk:muted") === "1";

export function isMuted() {
  return muted;
}

export function setMuted(value) {
  muted = value;
  localStorage.setItem("chatdesk:muted", value ? "1" : "0");
}

/** Call from a user gesture once so browsers allow sound later. */
export function unlockAudio() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
}

export function chime() {
  if (muted) return;
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const start = audio.currentTime + 0.01;
    [
      [659.25, 0],
      [987.77, 0.13],
    ].forEach(([freq, offset]) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0, start + offset);
      gain.gain.linearRampToValueAtTime(0.12, start + offset + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.4);
    });
  } catch {
    /* no audio device: stay silent */
  }
}

export function notificationsSupported() {
  return "Notification" in window;
}

export function notificationPermission() {
  return notificationsSupported() ? Notification.permission : "denied";
}

export async function askPermission() {
  if (!notificationsSupported()) return "denied";
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

export function desktop(title, body, onClick, tag) {
  if (!document.hidden || notificationPermission() !== "granted") return;
  try {
    const n = new Notification(title, { body: body.slice(0, 180), tag, silent: true });
    n.onclick = () => {
      window.focus();
      onClick?.();
      n.close();
    };
  } catch {
    /* some platforms only allow notifications from a service worker */
  }
}

export function setBadge(count) {
  document.title = count > 0 ? `(${count}) chatdesk` : "chatdesk";
}
