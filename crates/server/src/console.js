// Mingma officials' console. Every record and act is signed here, in the browser,
// with the official's Ed25519 key: a non-extractable WebCrypto CryptoKey kept in
// IndexedDB. The server drafts, this page signs the draft's message, the server
// checks the seal and appends. No framework, no build step.
(function () {
  'use strict';
  var I18N = JSON.parse(document.getElementById('console-i18n').textContent);
  var UI = I18N.ui, CODES = I18N.codes;
  var OFFICIAL = document.body.getAttribute('data-official') || '';
  var DATA = (function () {
    var el = document.getElementById('console-data');
    return el ? JSON.parse(el.textContent) : {};
  })();

  // ---- bytes ----
  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  function unhex(text) {
    if (!/^([0-9a-fA-F]{2})*$/.test(text)) return null;
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }
  function b64(text) {
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function fail(code, message) { return { code: code, message: message || '' }; }

  // ---- the key store: one entry per official, {official, privateKey, publicKey, keyId, source, created} ----
  function openDb() {
    return new Promise(function (resolve, reject) {
      var r = indexedDB.open('mingma-console', 1);
      r.onupgradeneeded = function () { r.result.createObjectStore('keys', { keyPath: 'official' }); };
      r.onsuccess = function () { resolve(r.result); };
      r.onerror = function () { reject(fail('no_indexeddb', String(r.error))); };
    });
  }
  function keyStore(mode, run) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction('keys', mode), q = run(tx.objectStore('keys'));
        tx.oncomplete = function () { resolve(q.result); };
        tx.onerror = function () { reject(fail('no_indexeddb', String(tx.error))); };
      });
    });
  }
  function browserKey() { return keyStore('readonly', function (s) { return s.get(OFFICIAL); }).then(function (k) { return k || null; }); }
  function saveKey(entry) { return keyStore('readwrite', function (s) { return s.put(entry); }); }
  function forgetKey() { return keyStore('readwrite', function (s) { return s.delete(OFFICIAL); }); }
  function keyIdOf(publicKey) {
    return crypto.subtle.digest('SHA-256', publicKey).then(function (d) { return hex(new Uint8Array(d).slice(0, 8)); });
  }
  function needCrypto() {
    if (!window.crypto || !crypto.subtle || !window.indexedDB) throw fail('no_webcrypto');
  }

  // A new key, generated here and never extractable; the public key is shown for an
  // admin to register and enrolled with the server.
  async function generateKey() {
    needCrypto();
    var pair;
    try {
      pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    } catch (e) { throw fail('no_webcrypto', String(e)); }
    var pub = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    var entry = { official: OFFICIAL, privateKey: pair.privateKey, publicKey: hex(pub), keyId: await keyIdOf(pub), source: 'generated', created: new Date().toISOString() };
    await saveKey(entry);
    return entry;
  }

  // A key file (64 hex digits of the seed, as `mingma admin keygen` writes): imported
  // once as PKCS#8, not extractable. Its public key is found among the official's
  // registered keys by signing a challenge and verifying it under each of them, so
  // no extractable copy of the private key is ever made.
  var PKCS8_ED25519 = '302e020100300506032b657004220420';
  async function importKeyFile(text) {
    needCrypto();
    var seed = (text || '').trim();
    if (!/^[0-9a-fA-F]{64}$/.test(seed)) throw fail('bad_key_file');
    var der = unhex(PKCS8_ED25519 + seed);
    var key;
    try {
      key = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
    } catch (e) { throw fail('no_webcrypto', String(e)); } finally { der.fill(0); }
    var challenge = crypto.getRandomValues(new Uint8Array(32));
    var signature = await crypto.subtle.sign({ name: 'Ed25519' }, key, challenge);
    var registered = DATA.public_keys || [];
    for (var i = 0; i < registered.length; i++) {
      var pub = unhex(registered[i].public_key);
      var verifier = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, true, ['verify']);
      if (await crypto.subtle.verify({ name: 'Ed25519' }, verifier, signature, challenge)) {
        var entry = { official: OFFICIAL, privateKey: key, publicKey: registered[i].public_key, keyId: registered[i].id, source: 'imported', created: new Date().toISOString() };
        await saveKey(entry);
        return entry;
      }
    }
    throw fail('key_not_yours');
  }

  // ---- the API ----
  async function api(method, path, body) {
    var init = { method: method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    var response;
    try { response = await fetch(path, init); } catch (e) { throw fail('network', String(e)); }
    var value = null;
    try { value = await response.json(); } catch (e) { value = null; }
    if (!response.ok) throw fail((value && value.code) || 'http_' + response.status, value && value.message);
    return value;
  }
  async function seal(messageB64) {
    needCrypto();
    var k = await browserKey();
    if (!k) throw fail('no_browser_key');
    var signature = await crypto.subtle.sign({ name: 'Ed25519' }, k.privateKey, b64(messageB64));
    return k.keyId + '.' + hex(new Uint8Array(signature));
  }
  // Drafts at `path`, signs the draft's message here, submits the seal.
  async function draftAndSeal(path, body) {
    var draft = await api('POST', path, body);
    var s = await seal(draft.message);
    return api('POST', '/api/v1/official/drafts/' + encodeURIComponent(draft.draft) + '/seal', { seal: s });
  }

  // ---- showing results ----
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function showError(box, err) {
    box.className = 'result error';
    box.textContent = '';
    var code = (err && err.code) || 'internal';
    box.appendChild(el('strong', 'refusal', CODES[code] || CODES._));
    var small = el('small', 'muted');
    small.appendChild(el('code', 'error-code', code));
    if (err && err.message) small.appendChild(document.createTextNode(' · ' + UI.detail + err.message));
    box.appendChild(document.createElement('br'));
    box.appendChild(small);
  }
  function showOk(box, text) {
    box.className = 'result notice ok';
    box.textContent = text;
  }
  function describe(outcome) {
    if (!outcome) return UI.done;
    if (outcome.outcome === 'record') {
      var parts = [UI.recorded + outcome.record + ' (' + UI.leaf + outcome.leaf + ')'];
      parts.push(outcome.awaiting_approval ? UI.awaiting : UI.in_effect);
      var c = outcome.changed || {};
      parts.push(UI.rederived + outcome.derived + UI.changed + (c.red || 0) + ' / ' + (c.yellow || 0) + ' / ' + (c.green || 0));
      return parts.join(' · ');
    }
    return UI.act_done + outcome.leaf;
  }
  function busy(button, on) { if (button) button.disabled = on; }

  // ---- the key status shown on every page that has #browser-key ----
  async function keyStatus() {
    var box = document.getElementById('browser-key');
    if (!box) return;
    try {
      needCrypto();
      var k = await browserKey();
      if (!k) { box.textContent = UI.no_key; box.setAttribute('data-state', 'none'); return; }
      var registered = (DATA.public_keys || []).some(function (p) { return p.id === k.keyId; });
      var enrolled = (DATA.enrolled || []).indexOf(k.keyId) >= 0;
      var state = registered ? 'registered' : (enrolled ? 'enrolled' : 'unregistered');
      box.setAttribute('data-state', state);
      box.textContent = UI.holds_key + k.keyId + ' · ' + UI['key_' + state];
      var pub = document.getElementById('public-key');
      if (pub && !registered) { pub.textContent = k.publicKey; pub.parentNode.hidden = false; }
    } catch (e) { showError(box, e); }
  }

  function on(id, event, handler) {
    var e = document.getElementById(id);
    if (e) e.addEventListener(event, handler);
  }

  // ---- key page ----
  on('generate-key', 'click', async function (ev) {
    var box = document.getElementById('key-result');
    busy(ev.target, true);
    try {
      var existing = await browserKey();
      if (existing && !window.confirm(UI.replace_key)) return;
      var entry = await generateKey();
      await api('POST', '/api/v1/official/keys/enrol', { public_key: entry.publicKey });
      DATA.enrolled = (DATA.enrolled || []).concat([entry.keyId]);
      showOk(box, UI.generated + entry.keyId);
      await keyStatus();
    } catch (e) { showError(box, e); } finally { busy(ev.target, false); }
  });
  on('import-key', 'click', async function (ev) {
    var box = document.getElementById('key-result');
    busy(ev.target, true);
    try {
      var text = document.getElementById('key-hex').value;
      var file = document.getElementById('key-file');
      if (file && file.files && file.files.length) text = await file.files[0].text();
      var entry = await importKeyFile(text);
      document.getElementById('key-hex').value = '';
      if (file) file.value = '';
      showOk(box, UI.imported + entry.keyId);
      await keyStatus();
    } catch (e) { showError(box, e); } finally { busy(ev.target, false); }
  });
  on('forget-key', 'click', async function () {
    var box = document.getElementById('key-result');
    if (!window.confirm(UI.forget_confirm)) return;
    try { await forgetKey(); showOk(box, UI.forgotten); await keyStatus(); } catch (e) { showError(box, e); }
  });

  // ---- records page: each form is one record kind ----
  function toTime(v) {
    var m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?$/.exec(v);
    return m ? m[1] + 'T' + m[2] + (m[3] || ':00') + '+08:00' : v;
  }
  function collect(form) {
    var o = { type: form.getAttribute('data-kind') }, extra = {};
    Array.prototype.forEach.call(form.querySelectorAll('[name]'), function (input) {
      var v = input.value.trim();
      if (!v) return;
      var kind = input.getAttribute('data-type');
      if (kind === 'time') v = toTime(v);
      if (kind === 'list') v = v.split(/[\s,，、;；]+/).filter(Boolean);
      if (kind === 'number') v = Number(v);
      if (input.name.charAt(0) === '_') { extra[input.name] = v; return; }
      if (input.name === 'subject' && /^[0-9a-fA-F]{64}$/.test(v)) { o.subject_key = v.toLowerCase(); return; }
      o[input.name] = v;
    });
    if (o.type === 'close_contact') {
      o.exposure = extra._exposure === 'venue'
        ? { venue: extra._venue, from: extra._from, until: extra._until }
        : 'household';
    }
    if (o.type === 'risk_area') o[extra._scope || 'divisions'] = extra._places;
    return o;
  }
  Array.prototype.forEach.call(document.querySelectorAll('form.record-form'), function (form) {
    form.addEventListener('submit', async function (ev) {
      ev.preventDefault();
      var box = form.querySelector('.result'), button = form.querySelector('button[type=submit]');
      busy(button, true);
      showOk(box, UI.signing);
      try {
        showOk(box, describe(await draftAndSeal('/api/v1/official/records/draft', collect(form))));
      } catch (e) { showError(box, e); } finally { busy(button, false); }
    });
  });

  // ---- approvals page ----
  Array.prototype.forEach.call(document.querySelectorAll('li.pending'), function (item) {
    var target = item.getAttribute('data-record'), box = item.querySelector('.result');
    function decide(body, button) {
      busy(button, true);
      showOk(box, UI.signing);
      draftAndSeal('/api/v1/official/records/draft', body).then(function (outcome) {
        showOk(box, describe(outcome));
        item.classList.add('decided');
        Array.prototype.forEach.call(item.querySelectorAll('button'), function (b) { b.disabled = true; });
      }, function (e) { showError(box, e); busy(button, false); });
    }
    var approve = item.querySelector('button.approve');
    if (approve) approve.addEventListener('click', function () { decide({ type: 'approval', target: target }, approve); });
    var reject = item.querySelector('button.reject');
    if (reject) reject.addEventListener('click', function () {
      var reason = item.querySelector('input.reason').value.trim();
      if (!reason) { showError(box, fail('reason_required')); return; }
      decide({ type: 'rejection', target: target, reason: reason }, reject);
    });
  });

  // ---- tracing page ----
  var traced = null;
  on('trace-form', 'submit', async function (ev) {
    ev.preventDefault();
    var box = document.getElementById('trace-result'), list = document.getElementById('contacts');
    var button = ev.target.querySelector('button[type=submit]');
    list.textContent = '';
    document.getElementById('propose-card').hidden = true;
    busy(button, true);
    showOk(box, UI.signing);
    try {
      var outcome = await draftAndSeal('/api/v1/official/trace', {
        case: document.getElementById('trace-case').value.trim(),
        margin_minutes: Number(document.getElementById('trace-margin').value || 30)
      });
      traced = outcome.trace;
      showOk(box, UI.trace_logged + outcome.leaf + ' · ' + UI.found + traced.contacts.length);
      traced.contacts.forEach(function (c, n) {
        var li = el('li', 'contact'), label = el('label');
        var box2 = el('input', 'pick');
        box2.type = 'checkbox'; box2.value = String(n); box2.checked = true;
        label.appendChild(box2);
        label.appendChild(el('code', 'person', c.person));
        li.appendChild(label);
        var ul = el('ul', 'overlaps');
        c.overlaps.forEach(function (o) {
          ul.appendChild(el('li', '', UI.venue + o.venue + ' · ' + o.from + ' – ' + o.until + ' · ' + UI.case_scan + o.case_scan));
        });
        li.appendChild(ul);
        list.appendChild(li);
      });
      document.getElementById('propose-card').hidden = traced.contacts.length === 0;
    } catch (e) { showError(box, e); } finally { busy(button, false); }
  });
  on('propose', 'click', async function (ev) {
    if (!traced) return;
    var out = document.getElementById('propose-results');
    out.textContent = '';
    busy(ev.target, true);
    var basis = document.getElementById('propose-basis').value.trim();
    var picks = document.querySelectorAll('#contacts input.pick:checked');
    for (var i = 0; i < picks.length; i++) {
      var c = traced.contacts[Number(picks[i].value)], first = c.overlaps[0];
      var li = el('li', 'result');
      out.appendChild(li);
      var record = { type: 'close_contact', subject_key: c.person, case: traced.case, legal_basis: basis };
      record.exposure = first ? { venue: first.venue, from: first.from, until: first.until } : 'household';
      try { showOk(li, describe(await draftAndSeal('/api/v1/official/records/draft', record))); } catch (e) { showError(li, e); }
    }
    busy(ev.target, false);
  });

  // ---- consents page: an in-person check of a dependant's consent ----
  var consentRef = null;
  on('consent-lookup-form', 'submit', async function (ev) {
    ev.preventDefault();
    var box = document.getElementById('consent-lookup-result'), card = document.getElementById('consent-request');
    var button = document.getElementById('consent-lookup');
    card.hidden = true;
    consentRef = null;
    document.getElementById('consent-result').textContent = '';
    box.textContent = '';
    busy(button, true);
    try {
      var ref = document.getElementById('consent-reference').value.trim();
      var r = await api('GET', '/api/v1/official/consents/' + encodeURIComponent(ref));
      consentRef = r.reference;
      document.getElementById('consent-dependant').textContent = r.masked_name;
      document.getElementById('consent-last-four').textContent = r.id_last_four;
      document.getElementById('consent-proxy').textContent = r.proxy_masked_name;
      document.getElementById('consent-expires').textContent = r.expires_at;
      card.hidden = false;
    } catch (e) { showError(box, e); } finally { busy(button, false); }
  });
  on('consent-form', 'submit', async function (ev) {
    ev.preventDefault();
    var box = document.getElementById('consent-result'), button = document.getElementById('consent-sign');
    if (!consentRef) return;
    if (!document.getElementById('consent-checked').checked) { showError(box, fail('card_not_checked')); return; }
    busy(button, true);
    showOk(box, UI.signing);
    try {
      var outcome = await draftAndSeal('/api/v1/official/consents/' + encodeURIComponent(consentRef) + '/draft', {
        id_number: document.getElementById('consent-id').value.trim(),
        street: document.getElementById('consent-street').value.trim()
      });
      var c = outcome.consent || {};
      showOk(box, describe(outcome) + UI.consent_linked + (c.masked_name || '') + ' · ' + UI.id_ending + (c.id_last_four || ''));
      // Done: the button stays disabled, the request is closed.
      document.getElementById('consent-id').value = '';
      consentRef = null;
    } catch (e) { showError(box, e); busy(button, false); }
  });

  // ---- admin page: register enrolled keys with a sealed register_key act ----
  Array.prototype.forEach.call(document.querySelectorAll('li.enrolment'), function (item) {
    var button = item.querySelector('button.register'), box = item.querySelector('.result');
    if (!button) return;
    button.addEventListener('click', async function () {
      busy(button, true);
      showOk(box, UI.signing);
      try {
        var outcome = await draftAndSeal('/api/v1/official/acts/draft', {
          act: 'register_key', official: item.getAttribute('data-official'), key: item.getAttribute('data-key')
        });
        showOk(box, describe(outcome));
        item.classList.add('decided');
      } catch (e) { showError(box, e); busy(button, false); }
    });
  });

  // ---- an appeal ticket: accept (retract, sealed here), reject (signed here), note, close ----
  var appeal = document.getElementById('appeal');
  if (appeal) {
    var ticketPath = '/api/v1/official/appeals/' + encodeURIComponent(appeal.getAttribute('data-ticket'));
    var reload = function () { setTimeout(function () { location.reload(); }, 600); };
    on('accept-form', 'submit', async function (ev) {
      ev.preventDefault();
      var box = document.getElementById('decide-result'), button = document.getElementById('accept');
      busy(button, true);
      showOk(box, UI.signing);
      try {
        var draft = await api('POST', ticketPath + '/retraction/draft', {
          target: document.getElementById('accept-target').value,
          reason: document.getElementById('accept-reason').value.trim()
        });
        var s = await seal(draft.message);
        var answered = await api('POST', ticketPath + '/accept', { draft: draft.draft, seal: s });
        showOk(box, UI.answered + ' ' + ((answered.answer && answered.answer.code && answered.answer.code.colour) || ''));
        reload();
      } catch (e) { showError(box, e); busy(button, false); }
    });
    on('correct-form', 'submit', async function (ev) {
      ev.preventDefault();
      var box = document.getElementById('decide-result'), button = document.getElementById('correct-submit');
      var record;
      try { record = JSON.parse(document.getElementById('correct-record').value); }
      catch (e) { showError(box, fail('malformed_record', String(e))); return; }
      busy(button, true);
      showOk(box, UI.signing);
      try {
        var drafts = await api('POST', ticketPath + '/correction/draft', {
          target: document.getElementById('correct-target').value,
          reason: document.getElementById('correct-reason').value.trim(),
          record: record
        });
        var retraction = await seal(drafts.retraction.message), correction = await seal(drafts.correction.message);
        var answered = await api('POST', ticketPath + '/accept', {
          draft: drafts.retraction.draft, seal: retraction,
          correction: { draft: drafts.correction.draft, seal: correction }
        });
        showOk(box, UI.answered + ' ' + ((answered.answer && answered.answer.code && answered.answer.code.colour) || ''));
        reload();
      } catch (e) { showError(box, e); busy(button, false); }
    });
    on('reject-form', 'submit', async function (ev) {
      ev.preventDefault();
      var box = document.getElementById('decide-result'), button = document.getElementById('reject');
      busy(button, true);
      showOk(box, UI.signing);
      try {
        var draft = await api('POST', ticketPath + '/reject/draft', { reason: document.getElementById('reject-reason').value.trim() });
        var s = await seal(draft.message);
        await api('POST', ticketPath + '/reject', { draft: draft.draft, seal: s });
        showOk(box, UI.answered);
        reload();
      } catch (e) { showError(box, e); busy(button, false); }
    });
    on('note-form', 'submit', async function (ev) {
      ev.preventDefault();
      var box = document.getElementById('note-result'), button = document.getElementById('note');
      busy(button, true);
      try {
        await api('POST', ticketPath + '/notes', { text: document.getElementById('note-text').value.trim() });
        showOk(box, UI.noted);
        reload();
      } catch (e) { showError(box, e); busy(button, false); }
    });
    on('close-ticket', 'click', async function () {
      var box = document.getElementById('close-result'), button = document.getElementById('close-ticket');
      busy(button, true);
      try { await api('POST', ticketPath + '/close'); showOk(box, UI.closed); reload(); }
      catch (e) { showError(box, e); busy(button, false); }
    });
  }

  // ---- the 12345 hotline: consent, provenance, an appeal for the caller ----
  var hotlineConsent = null;
  async function showProvenance() {
    var p = await api('GET', '/api/v1/official/hotline/consents/' + encodeURIComponent(hotlineConsent) + '/provenance?lang=' + (I18N.lang || 'zh'));
    document.getElementById('hotline-colour').textContent = p.colour;
    document.getElementById('hotline-reason').textContent = p.reason || '—';
    var owners = document.getElementById('hotline-owners'), tickets = document.getElementById('hotline-tickets');
    owners.textContent = ''; tickets.textContent = '';
    (p.owners || []).forEach(function (o) { owners.appendChild(el('li', 'owner', o.name + (o.contact ? ' · ' + o.contact : ''))); });
    (p.tickets || []).forEach(function (t) {
      var li = el('li', 'ticket');
      var a = el('a', '', t.addressee.name + ' · ' + (UI['status_' + t.status] || t.status) + ' · ' + t.deadline);
      a.href = '/console/appeals/' + t.id;
      li.appendChild(a);
      tickets.appendChild(li);
    });
    document.getElementById('hotline-provenance').hidden = false;
  }
  on('hotline-start', 'submit', async function (ev) {
    ev.preventDefault();
    var box = document.getElementById('hotline-result');
    try {
      var r = await api('POST', '/api/v1/official/hotline/consents', { id_number: document.getElementById('hotline-id').value.trim() });
      hotlineConsent = r.consent;
      showOk(box, UI.consent_sent + r.sent_to + (r.demo_code ? ' (demo: ' + r.demo_code + ')' : ''));
      document.getElementById('hotline-confirm').hidden = false;
    } catch (e) { showError(box, e); }
  });
  on('hotline-confirm', 'submit', async function (ev) {
    ev.preventDefault();
    var box = document.getElementById('hotline-result');
    try {
      var r = await api('POST', '/api/v1/official/hotline/consents/' + encodeURIComponent(hotlineConsent) + '/confirm', { code: document.getElementById('hotline-code').value.trim() });
      showOk(box, UI.consent_ok + r.leaf);
      await showProvenance();
    } catch (e) { showError(box, e); }
  });
  on('hotline-appeal', 'submit', async function (ev) {
    ev.preventDefault();
    var box = document.getElementById('hotline-appeal-result');
    try {
      var r = await api('POST', '/api/v1/official/hotline/consents/' + encodeURIComponent(hotlineConsent) + '/appeals', {
        claim: document.getElementById('hotline-claim').value, text: document.getElementById('hotline-text').value.trim()
      });
      showOk(box, UI.opened + r.map(function (t) { return t.id.slice(0, 8); }).join(', '));
      await showProvenance();
    } catch (e) { showError(box, e); }
  });

  keyStatus();
})();
