// Checks, in the browser, that an event is in the workspace's log: fetches the
// latest signed checkpoint, asks for the event's inclusion proof at that size,
// recomputes the tree's root from the event's leaf hash and the proof
// (RFC 9162, section 2.1.3.2) and compares it with the checkpoint's root; then
// checks the checkpoint's Ed25519 signature against the deployment's published
// key when the browser's WebCrypto can (otherwise it says so).

/** SHA-256 of bytes, in plain JavaScript (WebCrypto needs HTTPS off localhost). */
export function sha256(bytes) {
  const k = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  const state = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const length = bytes.length;
  const padded = new Uint8Array(Math.ceil((length + 9) / 64) * 64);
  padded.set(bytes);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  const w = new Uint32Array(64);
  const rotate = (x, n) => (x >>> n) | (x << (32 - n));
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let t = 0; t < 16; t += 1) w[t] = view.getUint32(offset + t * 4);
    for (let t = 16; t < 64; t += 1) {
      const s0 = rotate(w[t - 15], 7) ^ rotate(w[t - 15], 18) ^ (w[t - 15] >>> 3);
      const s1 = rotate(w[t - 2], 17) ^ rotate(w[t - 2], 19) ^ (w[t - 2] >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = state;
    for (let t = 0; t < 64; t += 1) {
      const t1 = (hh + (rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)) + ((e & f) ^ (~e & g)) + k[t] + w[t]) >>> 0;
      const t2 = ((rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    const next = [a, b, c, d, e, f, g, hh];
    for (let i = 0; i < 8; i += 1) state[i] = (state[i] + next[i]) >>> 0;
  }
  const digest = new Uint8Array(32);
  const out = new DataView(digest.buffer);
  state.forEach((word, i) => out.setUint32(i * 4, word));
  return digest;
}

/** Standard base64 to bytes. */
export function fromBase64(text) {
  const binary = atob(text.trim());
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function nodeHash(left, right) {
  const input = new Uint8Array(65);
  input[0] = 1;
  input.set(left, 1);
  input.set(right, 33);
  return sha256(input);
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The root an inclusion proof leads to (RFC 9162 2.1.3.2), or null when it cannot be valid. */
export function rootFromInclusionProof(index, size, leafHash, hashes) {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let root = leafHash;
  for (const sibling of hashes) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      root = nodeHash(sibling, root);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      root = nodeHash(root, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? root : null;
}

/** A C2SP checkpoint's origin, size, root and signatures. */
export function parseCheckpoint(note) {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint is not a signed note');
  const body = note.slice(0, split + 1);
  const [origin, size, root] = body.split('\n');
  const signatures = note.slice(split + 2).split('\n').filter(Boolean).map((line) => {
    const [, name, signature] = line.match(/^\u2014 (\S+) (\S+)$/) || [];
    return name ? { name, bytes: fromBase64(signature) } : null;
  }).filter(Boolean);
  return { body, origin, size: Number(size), root: fromBase64(root), signatures };
}

async function checkSignature(checkpoint, keys) {
  if (!window.crypto?.subtle) return 'unchecked';
  for (const verifierKey of keys) {
    // The key's base64 may itself hold '+': only the first two separate fields.
    const first = verifierKey.indexOf('+');
    const second = verifierKey.indexOf('+', first + 1);
    if (first < 0 || second < 0) continue;
    const name = verifierKey.slice(0, first);
    const keyHashHex = verifierKey.slice(first + 1, second);
    const keyBase64 = verifierKey.slice(second + 1);
    const keyBytes = fromBase64(keyBase64 || '');
    if (keyBytes[0] !== 1 || keyBytes.length !== 33) continue;
    const keyHash = Uint8Array.from(keyHashHex.match(/../g) || [], (pair) => parseInt(pair, 16));
    const signature = checkpoint.signatures.find((candidate) => candidate.name === name && equalBytes(candidate.bytes.slice(0, 4), keyHash));
    if (!signature) continue;
    try {
      const key = await crypto.subtle.importKey('raw', keyBytes.slice(1), { name: 'Ed25519' }, false, ['verify']);
      const valid = await crypto.subtle.verify({ name: 'Ed25519' }, key, signature.bytes.slice(4), new TextEncoder().encode(checkpoint.body));
      return valid ? 'valid' : 'invalid';
    } catch {
      return 'unchecked';
    }
  }
  return 'invalid';
}

/**
 * Checks an event's inclusion against the latest checkpoint. Answers
 * {status: 'verified'|'failed', signature: 'valid'|'invalid'|'unchecked', size, root, origin, message}.
 */
export async function checkInclusion(api, workspace, event) {
  const checkpoint = parseCheckpoint(await api.checkpoint(workspace));
  const [proof, logKeys] = await Promise.all([api.proof(workspace, event.id, checkpoint.size), api.logKeys()]);
  const leaf = fromBase64(event.leaf_hash);
  const root = rootFromInclusionProof(event.seq, checkpoint.size, leaf, proof.hashes.map(fromBase64));
  const rootMatches = root !== null && equalBytes(root, checkpoint.root) && proof.leaf_hash === event.leaf_hash;
  const signature = await checkSignature(checkpoint, logKeys.keys);
  const rootText = btoa(String.fromCharCode(...checkpoint.root));
  if (!rootMatches) {
    return { status: 'failed', signature, size: checkpoint.size, root: rootText, origin: checkpoint.origin,
      message: 'The proof does not lead to the checkpoint\u2019s root: this event is not in the log as shown.' };
  }
  if (signature === 'invalid') {
    return { status: 'failed', signature, size: checkpoint.size, root: rootText, origin: checkpoint.origin,
      message: 'The checkpoint\u2019s signature does not verify with the deployment\u2019s published key.' };
  }
  return { status: 'verified', signature, size: checkpoint.size, root: rootText, origin: checkpoint.origin,
    proofLength: proof.hashes.length,
    message: `Included at position ${event.seq} of ${checkpoint.size}: the proof (${proof.hashes.length} hashes) leads to the root of the latest checkpoint.` };
}
