// localStorage / sessionStorage that never throw. Inside an LMS iframe the browser may deny
// storage to the third-party page (as it blocks its cookies); then values live for the page only.

function safe(kind) {
  const memory = new Map();
  let backend = null;
  try {
    backend = window[kind];
    const probe = '__tutor_probe__';
    backend.setItem(probe, '1');
    backend.removeItem(probe);
  } catch {
    backend = null;
  }
  return {
    get(key) {
      return backend ? backend.getItem(key) : memory.get(key) ?? null;
    },
    set(key, value) {
      if (backend) backend.setItem(key, value);
      else memory.set(key, value);
    },
    remove(key) {
      if (backend) backend.removeItem(key);
      else memory.delete(key);
    },
  };
}

export const local = safe('localStorage');
export const session = safe('sessionStorage');
