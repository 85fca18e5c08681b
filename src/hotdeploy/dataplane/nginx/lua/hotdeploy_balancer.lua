-- hotdeploy's balancer for open-source nginx (balancer_by_lua, log_by_lua, content_by_lua).
--
-- nginx's own round robin and max_fails no longer choose the peer once balancer_by_lua does,
-- so this module implements the rules of ngx_http_upstream_round_robin.c, least_conn,
-- ip_hash and hash itself. Servers live in the lua_shared_dict `hotdeploy` (every worker, and
-- every generation of workers across a reload, sees the same servers and counters); each
-- worker keeps only the smooth-round-robin weights, as nginx does for an upstream without a
-- `zone`. Failure accounting (fails/accessed/checked) is shared, as with a `zone`.
--
-- The request path reads one shared-dict number per request: the upstream's state version
-- `gen:NAME`. Every write that can change a choice (the server list, fails/accessed/checked,
-- a health state, a slow-start ramp) is made first and the version bumped after it, so a
-- worker that sees an unchanged version holds a snapshot that is current; one that sees a
-- new version re-reads the servers' state (and, only when `lgen:NAME` moved too, the list)
-- before choosing. In-flight counts stay in the shared dict (one incr per attempt and one
-- decr in the log phase): drain, max_conns and least_conn need every worker's count at once.
-- Counters only the admin API reads are summed per worker and flushed every FLUSH seconds.

local cjson = require "cjson.safe"
local balancer = require "ngx.balancer"
local bit = require "bit"
local ffi = require "ffi"
local get_request = require("resty.core.base").get_request

-- The current request's address as a number: the same in every phase of the request (the
-- pointer cdata get_request returns is a new object each time, no use as a table key).
local function request_key() return tonumber(ffi.cast("uintptr_t", get_request())) end

local dict = ngx.shared.hotdeploy
local M = {}

-- The request path's functions as upvalues: a global or field lookup per call is a chain of
-- guarded hash loads in every trace.
local dict_get, dict_incr = dict.get, dict.incr
local now_of = ngx.now
local set_current_peer = balancer.set_current_peer
local set_more_tries = balancer.set_more_tries
local get_last_failure = balancer.get_last_failure
local floor = math.floor

local UPS = {}        -- upstream settings rendered into nginx.conf: method, key, health ...
local GENERATION = "" -- digest of the configuration: a reload is confirmed when it answers
-- per worker, each upstream's view is u.view: {gen, list, primary, backup, ring ...}
local rr = {}         -- per worker: server id -> {current, effective, weight}

-- ---------------------------------------------------------------------------------------
-- helpers

local function key(kind, id) return kind .. ":" .. id end

-- The hot path's shared-dict keys per server id, built once per worker (no string building
-- per request).
local K = setmetatable({}, { __index = function(t, id)
    local k = { f = key("f", id), c = key("c", id), a = key("a", id), act = key("act", id),
        req = key("req", id), tot = key("tot", id), rt = key("rt", id), ftot = key("ftot", id),
        hcs = key("hcs", id), ss = key("ss", id),
        r = { key("r1", id), key("r2", id), key("r3", id), key("r4", id), key("r5", id) } }
    t[id] = k
    return k
end })

-- An upstream's state version (every change that can alter a choice bumps it) and its list
-- version (bumped only when the server list itself changes).
local function memo(kind)
    return setmetatable({}, { __index = function(t, name)
        t[name] = key(kind, name)
        return t[name]
    end })
end
local GEN, LGEN = memo("gen"), memo("lgen")

-- After a write that other workers' choices depend on: they re-read the state at their next
-- request (the write is already in the shared dict when the version moves).
local function touch(name) dict:incr(GEN[name], 1, 0) end

local function get(kind, id, default)
    local v = dict:get(key(kind, id))
    if v == nil then return default end
    return v
end

-- Counters that only the admin API reads (requests, responses, response time) are summed per
-- worker and added to the shared dict every FLUSH seconds: the request path then touches the
-- shared dict only for what other workers must see at once (in-flight counts, failures).
-- One table per server id, with fixed fields ([1]..[5]: responses by status class), so a
-- count is a field update rather than a lookup of a key string in a table of them.
local FLUSH = 0.2
local STATS = setmetatable({}, { __index = function(t, id)
    local st = { 0, 0, 0, 0, 0, req = 0, tot = 0, rt = 0 }
    t[id] = st
    return st
end })

local function flush()
    -- No yield between a read and its reset (shared-dict calls never yield).
    for id, st in pairs(STATS) do
        local k = K[id]
        if st.req ~= 0 then dict:incr(k.req, st.req, 0); st.req = 0 end
        if st.tot ~= 0 then dict:incr(k.tot, st.tot, 0); st.tot = 0 end
        if st.rt ~= 0 then dict:incr(k.rt, st.rt, 0); st.rt = 0 end
        for class = 1, 5 do
            if st[class] ~= 0 then dict:incr(k.r[class], st[class], 0); st[class] = 0 end
        end
    end
end

local function lock()
    -- Mutations read, change and write a whole server list: serialize them across workers.
    for _ = 1, 2000 do
        if dict:add("lock", true, 2) then return true end
        ngx.sleep(0.001)
    end
    return false
end

local function unlock() dict:delete("lock") end

local UNITS = { ms = 0.001, s = 1, m = 60, h = 3600, d = 86400 }

local function seconds(value, default)
    if value == nil or value == cjson.null then return default end
    if type(value) == "number" then return value end
    local num, unit = tostring(value):match("^%s*([%d.]+)%s*(%a*)%s*$")
    if not num then return nil end
    local factor = UNITS[unit == "" and "s" or unit]
    if not factor then return nil end
    return tonumber(num) * factor
end

local function split(text)
    -- $upstream_status and friends: "502, 200" (" : " separates internal redirects)
    local out = {}
    if not text then return out end
    for item in text:gmatch("[^,:]+") do out[#out + 1] = item:match("^%s*(.-)%s*$") end
    return out
end

local function read_list(name)
    return cjson.decode(dict:get(key("list", name)) or "[]") or {}
end

local function write_list(name, list)
    dict:set(key("list", name), cjson.encode(list))
    dict:incr(LGEN[name], 1, 0)
    touch(name)
end

-- ---------------------------------------------------------------------------------------
-- the per-worker view of an upstream's servers

local function ring_of(list)
    -- `hash ... consistent`: a ketama ring, 160 points per unit of weight (nginx's rule).
    local ring = {}
    for _, s in ipairs(list) do
        for j = 0, 160 * s.weight - 1 do
            ring[#ring + 1] = { hash = ngx.crc32_long(s.server .. "-" .. j), s = s }
        end
    end
    table.sort(ring, function(a, b) return a.hash < b.hash end)
    return ring
end

local function load_state(u, s)
    -- A server's shared state as the choice reads it (a snapshot: see the top of the file).
    local k = K[s.id]
    s.k = k
    s.f = dict:get(k.f) or 0
    s.a = dict:get(k.a) or 0
    s.c = dict:get(k.c) or 0
    -- `mandatory`: checking until the first pass
    s.hs = u and u.health and (dict:get(k.hcs) or "checking") or "up"
    s.began = (s.slow_start or 0) > 0 and dict:get(k.ss) or nil
    -- What eligible() asks of every request, decided once per snapshot: whether the server
    -- takes requests at all, and whether its failures can rule it out (the clock then
    -- decides, against fail_timeout). max_fails=0 disables accounting.
    s.open = s.hs == "up" and not s.down and not s.drain
    s.may_fail_out = s.max_fails ~= 0 and s.f >= s.max_fails
end

local function build(name, lgen)
    local list = read_list(name)
    local primary, backup, total = {}, {}, 0
    for _, s in ipairs(list) do
        if s.backup then backup[#backup + 1] = s else
            primary[#primary + 1] = s
            total = total + s.weight
        end
        local w = rr[s.id]
        if not w or w.weight ~= s.weight then
            w = { current = 0, effective = s.weight, weight = s.weight }
            rr[s.id] = w
        end
        s.w = w
        s.ups = name  -- the log phase finds the upstream from the peer
        s.st = STATS[s.id]
        -- fields that are always there (a missing key costs a failed hash lookup per read)
        s.ramps = (s.slow_start or 0) > 0
        s.mc = s.max_conns or 0
    end
    local by_id = {}
    for _, s in ipairs(list) do by_id[s.id] = s end
    local c = { lgen = lgen, list = list, primary = primary, backup = backup, total = total,
        by_id = by_id, n = #list, single = #primary == 1 and #backup == 0 }
    local u = UPS[name]
    if u and u.method == "hash" and u.consistent then c.ring = ring_of(primary) end
    return c
end

local function view(name, u)
    -- The version first: what is read after it is at least as new as it.
    local gen = dict_get(dict, u.gen_key) or 0
    local c = u.view
    if c and c.gen == gen then return c end
    local lgen = dict:get(LGEN[name]) or 0
    if not c or c.lgen ~= lgen then c = build(name, lgen) end
    for _, s in ipairs(c.list) do load_state(u, s) end
    c.gen = gen
    u.view = c
    return c
end

-- ---------------------------------------------------------------------------------------
-- eligibility: ngx_http_upstream_get_peer's rules

local function failed_out(s, now, single)
    -- max_fails=0 disables accounting; a single server is never marked unavailable.
    if single or s.max_fails == 0 then return false end
    return s.f >= s.max_fails and now - s.c <= s.fail_timeout
end

local function eligible(s, tried, now, single)
    -- s.open, s.may_fail_out: see load_state (failed_out's rule, its clock part left)
    if not s.open or tried[s.id] then return false end
    if s.may_fail_out and not single and now - s.c <= s.fail_timeout then return false end
    -- max_conns counts every worker's requests in flight
    return s.mc <= 0 or (dict_get(dict, s.k.act) or 0) < s.mc
end

-- ---------------------------------------------------------------------------------------
-- the policies

-- NGINX Plus `slow_start=T`: after a server is added (or passes its first check) or
-- recovers, its weight ramps from 0 to nominal over T (never below 5%, so it is not starved).
-- Only servers with slow_start read the ramp's start from the shared dict.
local SLOW_START_MIN = 0.05

local function ramp_begin(s)
    -- The caller bumps the version (touch or write_list) after this.
    if s and (s.slow_start or 0) > 0 then dict:set(key("ss", s.id), ngx.now()) end
end

local function weight_of(s, now)
    local ss = s.slow_start
    if ss and ss > 0 then
        local began = s.began
        if began and now - began < ss then
            return s.weight * math.max((now - began) / ss, SLOW_START_MIN)
        end
    end
    return s.weight
end

local function swrr(cands, now)
    -- Smooth weighted round robin: current += effective; the largest current wins and
    -- gives back the total. Weights 5,1,1 give a a b a c a a.
    local best, total = nil, 0
    local bw
    for _, s in ipairs(cands) do
        local w = s.w  -- rr[s.id], set by build for the servers of the current list
        local eff = w.effective
        if s.ramps then eff = math.min(eff, weight_of(s, now)) end
        w.current = w.current + eff
        total = total + eff
        if w.effective < s.weight then w.effective = w.effective + 1 end
        if best == nil or w.current > bw.current then best, bw = s, w end
    end
    if bw then bw.current = bw.current - total end
    return best
end

local function eligible_of(u, group, tried, now, single)
    local out = {}
    for _, s in ipairs(group) do
        if eligible(s, tried, now, single) then out[#out + 1] = s end
    end
    return out
end

local function least_conn(cands, now)
    -- The smallest conns/weight (a.conns * b.weight < b.conns * a.weight); ties go to
    -- smooth weighted round robin among the tied.
    local best, tied = nil, {}
    for _, s in ipairs(cands) do
        local conns = dict_get(dict, s.k.act) or 0
        local weight = weight_of(s, now)
        if best == nil or conns * best.weight < best.conns * weight then
            best = { conns = conns, weight = weight }
            tied = { s }
        elseif conns * best.weight == best.conns * weight then
            tied[#tied + 1] = s
        end
    end
    if #tied <= 1 then return tied[1] end
    return swrr(tied, now)
end

local function random_pick(cands, now)
    local total = 0
    for _, s in ipairs(cands) do total = total + weight_of(s, now) end
    if total == 0 then return nil end
    local w = math.random() * total
    for _, s in ipairs(cands) do
        w = w - weight_of(s, now)
        if w < 0 then return s end
    end
    return cands[#cands]
end

local function by_weight(group, total, w)
    for _, s in ipairs(group) do
        if w < s.weight then return s end
        w = w - s.weight
    end
    return group[#group]
end

local function ip_hash(u, c, tried, now, single)
    -- ngx_http_upstream_ip_hash_module: hash = (hash * 113 + octet) % 6271 over the first
    -- three octets of IPv4 (the whole IPv6 address), rehashing from the previous hash on an
    -- unavailable server; after 20 tries, round robin.
    local addr = ngx.var.remote_addr or ""
    local bytes = {}
    local a, b, d = addr:match("^(%d+)%.(%d+)%.(%d+)%.%d+$")
    if a then bytes = { tonumber(a), tonumber(b), tonumber(d) }
    else for i = 1, #addr do bytes[#bytes + 1] = addr:byte(i) end end
    local hash = 89
    if c.total == 0 then return nil end
    for _ = 1, 20 do
        for _, byte in ipairs(bytes) do hash = (hash * 113 + byte) % 6271 end
        local s = by_weight(c.primary, c.total, hash % c.total)
        if eligible(s, tried, now, single) then return s end
    end
    return swrr(eligible_of(u, c.primary, tried, now, single), now)
end

local function hash_value(u)
    return (u.hash_key:gsub("%$([%w_]+)", function(name) return ngx.var[name] or "" end))
end

local function plain_hash(u, c, tried, now, single)
    -- ngx_http_upstream_hash_module (Cache::Memcached-compatible): hash +=
    -- (crc32([REHASH] KEY) >> 16) & 0x7fff; server = hash % total_weight; 20 tries, then RR.
    local k = hash_value(u)
    local hash = 0
    if c.total == 0 then return nil end
    for rehash = 0, 19 do
        local text = rehash > 0 and (tostring(rehash) .. k) or k
        hash = hash + bit.band(bit.rshift(ngx.crc32_long(text), 16), 0x7fff)
        local s = by_weight(c.primary, c.total, hash % c.total)
        if eligible(s, tried, now, single) then return s end
    end
    return swrr(eligible_of(u, c.primary, tried, now, single), now)
end

local function consistent_hash(u, c, tried, now, single)
    -- The first ring point at or after crc32(key); on an unavailable server, the next point.
    local ring = c.ring
    if not ring or #ring == 0 then return nil end
    local h = ngx.crc32_long(hash_value(u))
    local lo, hi = 1, #ring
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if ring[mid].hash < h then lo = mid + 1 else hi = mid end
    end
    if ring[lo].hash < h then lo = 1 end
    for i = 0, math.min(#ring, 20 * 160) - 1 do
        local s = ring[(lo - 1 + i) % #ring + 1].s
        if eligible(s, tried, now, single) then return s end
    end
    return nil
end

local function pick(u, c, group, is_backup, tried, now, single)
    if not is_backup then
        if u.method == "ip_hash" then return ip_hash(u, c, tried, now, single) end
        if u.method == "hash" then
            if u.consistent then return consistent_hash(u, c, tried, now, single) end
            return plain_hash(u, c, tried, now, single)
        end
    end
    if u.method == "round_robin" then
        -- The common case without an intermediate table: smooth weighted round robin over
        -- the eligible peers (the same rules as swrr).
        local best, bw, total = nil, nil, 0
        for i = 1, #group do
            local s = group[i]
            if eligible(s, tried, now, single) then
                local w = s.w
                local eff = w.effective
                if s.ramps then eff = math.min(eff, weight_of(s, now)) end
                w.current = w.current + eff
                total = total + eff
                if w.effective < s.weight then w.effective = w.effective + 1 end
                if best == nil or w.current > bw.current then best, bw = s, w end
            end
        end
        if bw then bw.current = bw.current - total end
        return best
    end
    local cands = eligible_of(u, group, tried, now, single)
    if #cands == 0 then return nil end
    if u.method == "least_conn" then return least_conn(cands, now) end
    if u.method == "random" then return random_pick(cands, now) end
    return swrr(cands, now)
end

-- ---------------------------------------------------------------------------------------
-- phases

function M.init(conf, generation, saved_file)
    UPS = cjson.decode(conf) or {}
    for name, u in pairs(UPS) do
        local codes = {}
        for code in pairs(u.fail_codes or {}) do codes[tonumber(code)] = true end
        u.fail_codes = codes
        u.gen_key = GEN[name]  -- read by every request: no lookup of the name for it
    end
    GENERATION = generation
    -- A reload keeps the shared dict: servers and counters carry over. A fresh start reads
    -- the servers the control process saved (counters start at zero).
    if dict:get("loaded") then return end
    local f = saved_file and io.open(saved_file, "r")
    if f then
        local saved = cjson.decode(f:read("*a")) or {}
        f:close()
        dict:set("nextid", tonumber(saved.nextid) or 0)
        for name, list in pairs(saved.upstreams or {}) do
            if type(list) == "table" and #list > 0 then write_list(name, list) end
        end
    end
    dict:set("loaded", true)
end

local check_server -- forward

local function schedule_checks(premature, name)
    if premature or ngx.worker.exiting() then return end
    for _, s in ipairs(read_list(name)) do
        -- one check at a time per server: a slow one is not stacked up
        if dict:add(key("hcbusy", s.id), true, UPS[name].health.interval + 1) then
            ngx.timer.at(0, check_server, name, s)
        end
    end
end

function M.init_worker()
    math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
    -- premature (the worker is exiting: a reload or a stop) flushes one last time too
    ngx.timer.every(FLUSH, flush)
    -- Active checks run in one worker (worker 0 of the current generation); results go to
    -- the shared dict that every worker's balancer reads.
    if ngx.worker.id() ~= 0 then return end
    for name, u in pairs(UPS) do
        if u.health then
            ngx.timer.at(0, schedule_checks, name)
            ngx.timer.every(u.health.interval, schedule_checks, name)
        end
    end
end

-- The first attempt of a request has tried nothing: one shared empty set, no table per request.
local NOTHING_TRIED = setmetatable({}, { __newindex = function() error("read-only") end })

-- Per worker, keyed by the request's address (request_key)
-- from its first balance to its log phase: the peer of the first attempt, when it began, and
-- the peers of all attempts once there is a retry. Not ngx.ctx: creating a ctx table and its
-- registry reference cost about as much as the choice itself.
local FIRST, BEGAN, ATTEMPTS = {}, {}, {}

function M.balance(name)
    local u = UPS[name]
    local r = request_key()
    local c = view(name, u)
    local now = now_of()
    local first = FIRST[r]
    if first ~= nil and get_last_failure() == nil then
        -- Not a retry (nginx reports no previous attempt): an entry left by a request at the
        -- same address that never reached its log phase (a subrequest has none).
        first, ATTEMPTS[r] = nil, nil
    end
    local tried = NOTHING_TRIED
    if first == nil then
        -- nginx gives a request as many tries as the upstream has servers (primaries and
        -- backups); proxy_next_upstream_tries/timeout still bound them. The `down`
        -- placeholder gives nginx's count zero, so all of them are added here.
        if c.n > 0 then set_more_tries(c.n) end
    else
        -- A retry: the servers this request has tried, by id (the list may have been
        -- re-read since, with new tables for the same servers).
        local peers = ATTEMPTS[r]
        if peers == nil then
            peers = { first }
            ATTEMPTS[r] = peers
        end
        tried = {}
        for i = 1, #peers do tried[peers[i].id] = true end
    end
    local s = pick(u, c, c.primary, false, tried, now, c.single)
    if not s and #c.backup > 0 then
        -- Backups only while no primary is eligible, with the same algorithm.
        s = pick(u, c, c.backup, true, tried, now, false)
    end
    if not s then
        if first == nil then
            -- "no live upstreams": nginx marks every peer live again for quick recovery.
            for _, x in ipairs(c.list) do dict:set(K[x.id].f, 0) end
            touch(name)
            ngx.log(ngx.ERR, "no live upstreams while connecting to upstream \"", name, "\"")
        end
        -- No peer set: lua-nginx-module falls back to nginx's own round robin over the
        -- placeholder, which is `down`, so nginx itself answers 502 ("no live upstreams").
        -- (ngx.exit(502) here would become a 500.)
        return
    end
    -- The probe after fail_timeout: this selection stamps `checked`, which keeps the other
    -- requests (of every worker: the version moves) away until the probe's outcome is known.
    local k = s.k
    if now - s.c > s.fail_timeout then
        dict:set(k.c, now)
        s.c = now
        touch(name)
    end
    dict_incr(dict, k.act, 1, 0)
    local st = s.st
    st.req = st.req + 1
    BEGAN[r] = now
    if first == nil then FIRST[r] = s else
        local peers = ATTEMPTS[r]
        peers[#peers + 1] = s
    end
    local ok, err = set_current_peer(s.host, s.port)
    if not ok then
        ngx.log(ngx.ERR, "set_current_peer ", s.server, ": ", err)
        return ngx.exit(502)
    end
end

local function account(name, u, s, status, header, t, now)
    local k = s.k
    dict_incr(dict, k.act, -1, 0)
    -- error/timeout/invalid_header (no header arrived: nginx answers 502/504 itself) always
    -- count as failures; a backend's own http_5xx only when listed in proxy_next_upstream.
    -- A client that went away (499, or no status at all) is not the server's failure: nginx
    -- frees the peer with state 0 then.
    local failed = status ~= nil and status ~= 499 and
        (header == "-" or u.fail_codes[status] == true)
    if status and header ~= "-" then
        local st = s.st
        local class = floor(status / 100)
        if class >= 1 and class <= 5 then st[class] = st[class] + 1 end
        st.tot = st.tot + 1
        if t then st.rt = st.rt + t * 1000 end
    end
    if failed then
        dict:incr(k.f, 1, 0)
        dict:incr(k.ftot, 1, 0)
        dict:set(k.a, now)
        dict:set(k.c, now)
        touch(name)
        -- effective -= weight / max_fails: a recovered server comes back gradually
        local w = rr[s.id]
        if w and s.max_fails > 0 then
            w.effective = math.max(0, w.effective - math.floor(s.weight / s.max_fails))
        end
    elseif s.f > 0 then
        -- The snapshot had failures (a later failure elsewhere stamps accessed = checked, so
        -- it could not be reset by this success anyway): the shared state decides.
        local f = dict:get(k.f) or 0
        if f > 0 and (dict:get(k.a) or 0) < (dict:get(k.c) or 0) then
            if f >= s.max_fails then ramp_begin(s) end  -- recovered
            dict:set(k.f, 0)  -- the probe after fail_timeout succeeded
            touch(name)
        end
    end
end

-- Statuses nginx's own filters make of a proxied 200 (not_modified: 304, 412; range: 206,
-- 416): for these the client's status is not the upstream's.
local REWRITTEN = { [206] = true, [304] = true, [412] = true, [416] = true }

local function needs_header(status) return status == 502 or status == 504 end

local function aborted()
    -- the client closed the connection before the answer: nginx logs 499
    return ngx.var.status == "499"
end

function M.log()
    -- One entry per attempt in $upstream_status (and _header_time, _response_time), in the
    -- order of the peers the balancer picked: the outcome of each, as nginx's free_peer sees it.
    local r = request_key()
    local first = FIRST[r]
    if first == nil then return end
    local t0 = BEGAN[r]
    local ids = ATTEMPTS[r]
    FIRST[r], BEGAN[r] = nil, nil
    if ids ~= nil then ATTEMPTS[r] = nil end
    local name = first.ups
    local u = UPS[name]
    local var = ngx.var
    local now = now_of()
    if ids == nil then  -- the common case: one attempt
        local status = ngx.status
        if status >= 100 and status < 499 and not REWRITTEN[status] then
            -- One attempt and a status nginx did not make itself (its own are 502/504, an
            -- aborted client's 499) nor rewrite: the upstream's, read without formatting
            -- $upstream_status.
            account(name, u, first, status, nil, now - t0, now)
            return
        end
        status = tonumber(var.upstream_status)
        if status then
            local header = needs_header(status) and var.upstream_header_time or nil
            if header == "-" and aborted() then status = nil end
            -- ngx.now() is nginx's cached millisecond clock, the one $upstream_response_time
            -- uses
            account(name, u, first, status, header, now - t0, now)
            return
        end
        ids = { first }
    end
    local statuses = split(var.upstream_status)
    local headers = split(var.upstream_header_time)
    local times = split(var.upstream_response_time)
    local last_aborted = aborted()
    for i, peer in ipairs(ids) do
        local status = tonumber(statuses[i])
        if i == #ids and last_aborted then status = nil end
        account(name, u, peer, status, headers[i] or "-", tonumber(times[i]), now)
    end
end

-- ---------------------------------------------------------------------------------------
-- active health checks (NGINX Plus `health_check`: uri, interval, fails, passes, mandatory)

check_server = function(premature, name, s)
    local u = UPS[name]
    if premature or not u or not u.health then return end
    local hc = u.health
    local passed = false
    local sock = ngx.socket.tcp()
    local t = math.floor(hc.timeout * 1000)
    sock:settimeouts(t, t, t)
    if sock:connect(s.host, s.port) then
        local sent = sock:send("GET " .. hc.uri .. " HTTP/1.0\r\nHost: " .. s.server ..
            "\r\nUser-Agent: hotdeploy-health-check\r\nConnection: close\r\n\r\n")
        local line = sent and sock:receive("*l")
        local code = line and tonumber(line:match("^HTTP/%d%.%d (%d%d%d)"))
        passed = code ~= nil and code >= 200 and code < 400  -- Plus: 2xx and 3xx pass
        sock:close()
    end
    dict:delete(key("hcbusy", s.id))
    if dict:get(key("removed", s.id)) then return end
    dict:incr(key("hcn", s.id), 1, 0)
    local state = get("hcs", s.id, "checking")
    if passed then
        dict:set(key("hcf", s.id), 0)
        local passes = dict:incr(key("hcp", s.id), 1, 0)
        dict:set(key("hclast", s.id), true)
        if state ~= "up" and passes >= hc.passes then
            ramp_begin(s)  -- a new server's first pass, or a recovery
            dict:set(key("hcs", s.id), "up")
            touch(name)
        end
    else
        dict:set(key("hcp", s.id), 0)
        dict:set(key("hclast", s.id), false)
        dict:incr(key("hcfails", s.id), 1, 0)
        local fails = dict:incr(key("hcf", s.id), 1, 0)
        if state ~= "unhealthy" and fails >= hc.fails then
            dict:set(key("hcs", s.id), "unhealthy")
            touch(name)
            dict:incr(key("hcu", s.id), 1, 0)
        end
    end
end

-- ---------------------------------------------------------------------------------------
-- the admin API: the NGINX Plus /api/9/http/upstreams subset hotdeploy uses

local function peer_json(u, s)
    local now = ngx.now()
    local state = "up"
    load_state(u, s)  -- fresh from the shared dict, not a worker's snapshot
    local hs = s.hs
    if s.down then state = "down"
    elseif s.drain then state = "draining"
    elseif hs ~= "up" then state = hs
    elseif failed_out(s, now, false) then state = "unavail" end
    local rtn = get("tot", s.id, 0)
    return {
        id = s.id, server = s.server, name = s.server, backup = s.backup == true,
        weight = s.weight, state = state, active = get("act", s.id, 0),
        requests = get("req", s.id, 0),
        responses = { ["1xx"] = get("r1", s.id, 0), ["2xx"] = get("r2", s.id, 0),
            ["3xx"] = get("r3", s.id, 0), ["4xx"] = get("r4", s.id, 0),
            ["5xx"] = get("r5", s.id, 0), total = get("tot", s.id, 0) },
        fails = get("ftot", s.id, 0), max_fails = s.max_fails, fail_timeout = s.fail_timeout,
        response_time = rtn > 0 and get("rt", s.id, 0) / rtn or cjson.null,
        health_checks = { checks = get("hcn", s.id, 0), fails = get("hcfails", s.id, 0),
            unhealthy = get("hcu", s.id, 0), last_passed = dict:get(key("hclast", s.id)) },
    }
end

local function reply(status, body)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    if body ~= nil then ngx.say(cjson.encode(body)) end
    return ngx.exit(status)
end

local function fail(status, code, text)
    return reply(status, { error = { status = status, code = code, text = text } })
end

local function server_config(u, body, s)
    -- The parameters of an upstream `server` directive (Plus API field names).
    s = s or {}
    if body.server ~= nil then
        local host, port = tostring(body.server):match("^([%w.%-]+):(%d+)$")
        if not host then return nil, "server: expected host:port" end
        s.server, s.host, s.port = body.server, host, tonumber(port)
    end
    for _, f in ipairs({ "weight", "max_fails", "max_conns" }) do
        if body[f] ~= nil then
            local n = tonumber(body[f])
            if not n or n < 0 or (f == "weight" and n < 1) then return nil, f .. ": invalid" end
            s[f] = math.floor(n)
        end
    end
    if body.fail_timeout ~= nil then
        s.fail_timeout = seconds(body.fail_timeout)
        if not s.fail_timeout then return nil, "fail_timeout: invalid" end
    end
    if body.slow_start ~= nil then s.slow_start = seconds(body.slow_start) or 0 end
    for _, f in ipairs({ "backup", "down", "drain" }) do
        if body[f] ~= nil then s[f] = body[f] == true end
    end
    s.weight = s.weight or 1
    s.max_fails = s.max_fails or u.max_fails
    s.fail_timeout = s.fail_timeout or u.fail_timeout
    return s
end

local function upstream_json(name)
    local u = UPS[name]
    local peers = {}
    for _, s in ipairs(read_list(name)) do peers[#peers + 1] = peer_json(u, s) end
    return { peers = peers, keepalive = u.keepalive, zombies = 0, zone = name }
end

local function mutate(name, fn)
    if not lock() then return fail(503, "Locked", "the server list is busy") end
    local list = read_list(name)
    local ok, status, body = pcall(fn, list)
    if ok and status < 300 and ngx.req.get_method() ~= "GET" then write_list(name, list) end
    unlock()
    if not ok then return fail(500, "Error", tostring(status)) end
    return reply(status, body)
end

function M.admin()
    flush()  -- this worker's counters; the others' arrive within FLUSH seconds
    local method = ngx.req.get_method()
    local uri = ngx.var.uri
    if uri == "/api/9/hotdeploy" then
        return reply(200, { engine = "nginx", mode = "live", generation = GENERATION,
            worker_pid = ngx.worker.pid(), nginx = ngx.var.nginx_version,
            next_id = dict:get("nextid") or 0 })
    end
    if uri == "/api/9/http/upstreams" or uri == "/api/9/http/upstreams/" then
        local all = {}
        for name in pairs(UPS) do all[name] = upstream_json(name) end
        return reply(200, all)
    end
    local name, rest = uri:match("^/api/9/http/upstreams/([%w_%-]+)(.*)$")
    local u = name and UPS[name]
    if not u then return fail(404, "UpstreamNotFound", "upstream not found") end
    if rest == "" or rest == "/" then return reply(200, upstream_json(name)) end
    local body = {}
    if method == "POST" or method == "PATCH" then
        ngx.req.read_body()
        body = cjson.decode(ngx.req.get_body_data() or "{}")
        if type(body) ~= "table" then return fail(400, "BodyFormatError", "invalid JSON") end
    end
    if rest == "/servers" or rest == "/servers/" then
        if method == "GET" then return reply(200, read_list(name)) end
        if method ~= "POST" then return fail(405, "MethodNotSupported", method) end
        return mutate(name, function(list)
            local s, err = server_config(u, body)
            if not s then return 400, { error = { status = 400, code = "InvalidParam", text = err } } end
            if not s.server then return 400, { error = { status = 400, text = "server missing" } } end
            s.id = dict:incr("nextid", 1, 0)
            for _, kind in ipairs({ "f", "a", "c", "act", "hcs", "hcp", "hcf", "removed", "ss" }) do
                dict:delete(key(kind, s.id))
            end
            list[#list + 1] = s
            if u.health then
                ngx.timer.at(0, check_server, name, s)  -- first check now; ramp at its pass
            else
                ramp_begin(s)
            end
            return 201, s
        end)
    end
    local id = tonumber(rest:match("^/servers/(%d+)$"))
    if not id then return fail(404, "PathNotFound", "path not found") end
    return mutate(name, function(list)
        for i, s in ipairs(list) do
            if s.id == id then
                if method == "GET" then return 200, s end
                if method == "DELETE" then
                    -- Requests in flight finish; their log phase still counts them down.
                    table.remove(list, i)
                    dict:set(key("removed", id), true, 600)
                    return 200, list
                end
                if method == "PATCH" then
                    local _, err = server_config(u, body, s)
                    if err then return 400, { error = { status = 400, code = "InvalidParam", text = err } } end
                    return 200, s
                end
                return 405, { error = { status = 405, text = method } }
            end
        end
        return 404, { error = { status = 404, code = "UpstreamServerNotFound", text = "server not found" } }
    end)
end

return M
