// Package card is the card platform's (Fiserv FirstVision / VisionPLUS)
// account blockUnblock client and adapter.
//
// The Client speaks the platform's JSON API: a client-credentials Bearer
// token from POST /v1/api/oauth/token, cached by a TokenSource and fetched
// again shortly before it expires or after the platform refused it;
// PUT /v1/accounts/{accountId}/blockUnblock to put a block code letter into
// one of the account's two slots (blockCode1, blockCode2) or, with a single
// space, to remove it; and GET /v1/accounts/{accountId}/details, the state
// inquiry that resolves a call of unknown outcome. Failures come as a JSON
// array of errors whose "invalid-params" entries start with the VisionPLUS
// code ("V5BS0010SF: Update Request - Record not found"). Every failure is
// a *providers.Error whose Class says whether the call may have been
// applied (see classify.go).
//
// The body of a blockUnblock call names only the slot being changed: a
// space in the other slot would remove that slot's code. A new block code
// goes into the slot asked when it is free, else into the other slot when
// that one is free (the page's "unused entry"), else, both in use, into the
// slot asked only when its priority is strictly greater than the code
// already there; otherwise the platform keeps the old code and says so
// (V5BS0125SC / V5BS0127SC), or answers 200 with the old code, which the
// Client reports as CodeBlockCodeNotApplied. A block is therefore taken
// when either slot holds its code, and the Result says which slot
// (Result.CodeSlot). A kept code also answers the replay of a block that
// already succeeded, so the Adapter checks Details before it lets such an
// answer stand as a refusal.
//
// The blockUnblock call has no idempotency key and the Client never
// retries: a Retryable failure may be sent again, an Unknown one is resolved
// by Details, never by sending it again blindly. Details proves a block
// applied when a slot holds its code; an account state that does not show
// the call's effect proves it not applied only once the call can no longer
// land (providers.Request.CannotLandAfter; see "Unknown outcomes").
//
// The Adapter maps a providers.Request onto the Client. Package cardfake,
// beside this one, simulates the platform for tests and development; the
// paths, bodies, error entry and codes the two share are written once, in
// internal/wire.
//
// The rest of this comment is the contract the package implements: what
// the platform documents, and what blockd decided where it is silent. It
// ends with the places where the code does not follow it yet.
//
// # Sources
//
// Every fact below carries one of these tags:
//
//   - [page: blockUnblock]: the platform's page "Block Unblock Account":
//     the call, its payload and answer examples, its required fields and
//     its error codes. Code comments call it "the seed". It is
//     byte-identical to docs/APIs/Account-Management/Block-Unblock-Account.md
//     of github.com/Fiserv/firstvision-apac at commit
//     b1a966fb3cc84572731dc82d505d1d8e9f707b2a.
//   - [firstvision path]: the same repository (Fiserv's FirstVision APAC
//     developer portal, API "Vision10" v1.12.0) at commit
//     0ec1359f660fbb64fa60e8eb7b2efcf7158c57a7. Files used:
//     docs/APIs/Security/get-access-token.md, docs/Common_Error_Code.md,
//     docs/APIs/Authorization/Inquire-Authorization-Details.md, and
//     reference/1.12.0/accounts_api.yaml and product_api.yaml (OpenAPI).
//   - [assumed: why]: no source states it; blockd decided it, for the
//     reason given. Client and sandbox share every assumed shape (in
//     internal/wire), so they agree; change it there when the platform
//     confirms.
//
// Code comments elsewhere point into this document as (card/doc.go,
// "Heading"), the path below providers/, mark a shape blockd assumed as
// ASSUMPTION (card/doc.go, "Heading"), and mark code that does not follow the
// contract yet as DEVIATION (card/doc.go, "Where the code does not follow
// this yet").
//
// # Token
//
// The page names no token call; the portal's is
//
//	POST /v1/api/oauth/token
//	{"grant_type": "client_credentials", "scope": "accounts", "client_id": "...", "client_secret": "..."}
//
// answered {"access_token", "token_type": "Bearer", "expires_in": 7199}
// (seconds), with no refresh token; bad credentials are HTTP 401 errorCode
// 240101, "Invalid client credentials, scope or grant_type" [firstvision
// docs/APIs/Security/get-access-token.md]. blockd asks a new token 60
// seconds before the old one expires (at half its life when it lives less
// than two minutes), and after the platform refused it [assumed: a call
// should never start with a token about to die]. The base URL is
// configuration.
//
// # Block and unblock
//
//	PUT /v1/accounts/{accountId}/blockUnblock[?businessUnit=n]
//	Authorization: Bearer <token>
//	{"blockCode1": "X"}
//
// [page: blockUnblock]. accountId is the 19-character account id
// [page: blockUnblock], zero-padded ("0001000010000510481"). blockCode1
// and blockCode2 are one character each [page: blockUnblock]: a letter A–Z
// or a space [firstvision reference/1.12.0/accounts_api.yaml]; at least one
// is required [page: blockUnblock]. businessUnit, the organisation the
// account belongs to, is an optional query parameter of 1–998
// [firstvision reference/1.12.0/accounts_api.yaml]. The optional header
// x-client-correlation-id (at most 40 characters) is echoed back
// [firstvision reference/1.12.0/accounts_api.yaml]; blockd sends the
// attempt's provider trackId in it, for tracing [assumed]. The call takes
// no Idempotency-Key (only the portal's POST money calls do) [firstvision
// reference/1.12.0/accounts_api.yaml].
//
// What the call does [page: blockUnblock]:
//
//   - A letter blocks. When one slot already holds a code, the new code can
//     go to the unused entry.
//   - A space in a slot removes that slot's code (unblock). No priority is
//     checked on unblock.
//   - Where a code is already applied, the product's block code priorities
//     decide: the new code replaces the old one only if its priority is
//     greater; otherwise the old code is kept.
//
// Priorities are 0–99, 0 the lowest, set per product in the block code
// matrix [firstvision reference/1.12.0/product_api.yaml].
//
// blockd reads the page's two paragraphs as one rule for where a new code
// goes [assumed: the first says where a new code goes, the second what
// happens when it would displace one]:
//
//  1. The slot the call names is free: the code goes there.
//  2. That slot is in use and the other is free: the code goes into the
//     other slot, the unused entry. Nothing is displaced, so no priority is
//     compared, and the same letter counts like any other: a replay of a
//     block that landed puts the code in a second time.
//  3. Both slots are in use: the code replaces the named slot's code only
//     if its priority is greater; otherwise the old code is kept.
//
// So a block is taken when either slot holds its code after a 200, and
// the Result says which one does, "codeSlot" beside the "slot" the command
// named [assumed]. The page both says the old code is kept and lists
// errors V5BS0125SC / V5BS0127SC ("cannot be replaced with one of the
// lower priority") [page: blockUnblock]; blockd handles both: a 200 whose
// slots do not hold the code sent is CodeBlockCodeNotApplied, refused like
// the two codes [assumed: the two texts describe one outcome]. An equal
// priority is not greater, so a replay of a block that already landed,
// both slots in use, meets the same refusal. Before a kept code stands as
// a refusal, blockd reads the account (see "State inquiry"): the command's
// code in either slot means the block's effect is in place (an earlier
// attempt applied it, its answer lost, or answered 250301 or 429 after
// applying), and the block is DONE, its Result saying "stateFrom":
// "details" and "keptCodeAnswer": the kept code; otherwise the refusal
// stands, and when the account cannot be read the outcome is unknown
// [assumed: from the priority rule]. A 200 after a removal whose slot
// still holds a code is an answer the page does not explain (no priority
// is checked on unblock): unknown [assumed].
//
// An unblock names the slot it empties. When a block's code went into the
// unused entry, the slot to empty is the block's codeSlot, not the slot
// the block command named: emptying that one would remove another party's
// code and leave the block's own (see "Where the code does not follow this
// yet").
//
// The page's own example sends {"blockCode1": "X", "blockCode2": " "},
// which would also clear slot 2 [page: blockUnblock]. blockd sends only
// the slot a command changes [assumed: never touch a code another party
// set]; which slot that is, the command says.
//
// The success answer, HTTP 200 [page: blockUnblock], which always shows
// both slots (an answer without blockCode1 and blockCode2 is unreadable,
// so unknown [assumed]):
//
//	{"accountId": "0001000010000510481", "blockCode1": "X", "blockCode1Date": "19/08/2021",
//	 "blockCode2": " ", "blockCode2Date": "19/08/2021", "businessUnit": 100}
//
// An empty slot is a space. The dates are system-generated, DD/MM/YYYY or
// MM/DD/YYYY as the platform's system control says [firstvision
// reference/1.12.0/accounts_api.yaml]; blockd passes them on as sent.
//
// # State inquiry
//
//	GET /v1/accounts/{accountId}/details
//
// (Inquire Account) answers the account's details, blockCode1,
// blockCode1Date, blockCode2 and blockCode2Date among them [firstvision
// reference/1.12.0/accounts_api.yaml]. blockd uses it to settle a call of
// unknown outcome and reads only the fields of a blockUnblock answer
// [assumed: the state is the only record of what happened]. A missing
// account is answered as by blockUnblock [assumed].
//
// # Errors
//
// Every failure is a JSON array of entries [page: blockUnblock]:
//
//	[{"detail": "Please refer to invalid-params for error details", "errorCode": "440401",
//	  "instance": "/v1/accounts/0001000010000510481/blockUnblock",
//	  "invalid-params": ["V5BS0010SF: Update Request - Record not found"],
//	  "source": "VPL", "status": 404, "title": "Not found"}]
//
// errorCode is the gateway's code; the VisionPLUS code, when there is one,
// is the start of an invalid-params entry, "CODE: text" [page:
// blockUnblock], sometimes with a space before the colon [firstvision
// docs/APIs/Authorization/Inquire-Authorization-Details.md]. blockd reads
// every entry of the array, and every invalid-params entry of each. It also
// reads an entry not wrapped in an array, errorCode as a string or a
// number, and an invalid-params entry given as an object: the code is the
// first field, code, errorCode, appCode or error first, that holds "CODE:
// text", or, in a field named for a code, one word by itself, as in
// {"name": "accountId", "reason": "V5BS0010SF: Record not found"} or
// {"code": "V5BS0010SF", "message": "..."} [assumed: leniency costs
// nothing, and a lost code would change the class].
//
// # Error codes
//
// What each answer means for blockd: permanent (refused; sending it again
// cannot help), retryable (certainly not applied; a new attempt may
// succeed) or unknown (may have been applied; see "Unknown outcomes"). The
// platform states no retry class; the classes are blockd's reading
// [assumed: from each code's text].
//
// The VisionPLUS codes of blockUnblock [page: blockUnblock]:
//
//   - V5BS0010SF record not found, V5BS4001EA invalid business unit,
//     V5BS4001SC business unit purged, V5BS4002SA invalid account number,
//     V5BS0125SV / V5BS0127SV invalid block code 1 / 2: permanent.
//   - V5BS0011SF record add pending: retryable, later; the account is still
//     being set up.
//   - V5BS0125SC / V5BS0127SC, a lower priority code cannot replace the
//     existing one: permanent, but see the kept-code check in "Block and
//     unblock".
//
// The gateway's common codes [firstvision docs/Common_Error_Code.md] and
// HTTP statuses:
//
//   - 240002, 240003, 240004 (authorization header or bearer token missing
//     or invalid), 240101 (unauthorized, token expired) and any HTTP 401:
//     the token was refused before the call was applied; retryable with a
//     new token [assumed: every bearer refusal applies nothing].
//   - 240001, 240005–240011, 340001 (configuration, payload, arguments,
//     required fields or headers, constraints, bad request), 240501, and
//     241501–241504 (media type): permanent.
//   - 240401 (no such API), 440401 (record not found) and 442201 (business
//     rule refused), as the portal's examples show them: permanent.
//     440001, a VisionPLUS refusal on HTTP 400, is assumed by the pattern
//     of those codes.
//   - 250301 service unavailable: retryable.
//   - 250001 internal error: unknown.
//   - HTTP 429: retryable [assumed: a rate limit refuses before applying].
//   - HTTP 408, 504 and other 5xx, a lost or unreadable answer: unknown.
//   - No connection could be made (the dial failed): retryable, nothing
//     was sent.
//   - Any answer the platform does not list is unknown, never taken as
//     "not applied" [assumed: nothing proves it was not applied]: a 4xx
//     without a listed code (a proxy's page, an undocumented code) too.
//
// When the entries carry several codes, each row above asks whether any
// entry carries its code, in this order, the first match deciding: a dead
// token; a VisionPLUS refusal (V5BS0010SF, V5BS4001EA, V5BS4001SC,
// V5BS4002SA, V5BS0125SV, V5BS0127SV); a kept code; add pending; 250001
// internal error; a gateway refusal; 250301; then the HTTP status
// [assumed: a refusal of the call itself outweighs "try later", and one
// entry saying the call may have been applied outweighs the gateway's
// other verdicts]. The code reported is the deciding one, else the first
// VisionPLUS code, else the first errorCode.
//
// # Unknown outcomes
//
// A blockUnblock call of unknown outcome is settled by the state inquiry,
// never by sending it again: a replay of a block that landed would meet the
// priority rule, or land a second time in the unused entry.
//
//   - A block counts as applied when either slot holds its letter, at
//     once [assumed: the letter there is almost always the call's own; if
//     another command had set it, the original landing late meets the
//     priority rule or adds a second copy, and takes nothing away].
//   - An unblock counts as applied when its slot is empty, but only once
//     the original call can no longer land [assumed: before that, an empty
//     slot may be one the unblock has not reached yet, and a DONE would let
//     the account's next command, a block into that slot, be erased by the
//     unblock landing late].
//   - Otherwise the call counts as not applied, but only once the original
//     call can no longer land.
//
// "Can no longer land" is after the call's send time plus the call timeout
// plus a margin, providers.Request.CannotLandAfter, which the processor
// sets; before it, or when it is unset, the read is unproven and asked
// again later [assumed: a late original could otherwise change the slot
// after it was read].
//
// # The sandbox
//
// Package cardfake speaks this contract through internal/wire, with the
// client's deviations below. Its own choices, which are not the
// platform's:
//
//   - It issues opaque tokens, not the platform's RS256 JWTs; scope "all"
//     covers "accounts". Tokens live 7199 seconds by default.
//   - Every 19-digit account exists, created empty in business unit 100
//     (the page's example) unless the call names one, except ids starting
//     with 999, which are not found.
//   - Priorities are configuration: 10 for every letter, A 5, Z 90.
//   - A block code is placed by the page's rule as blockd reads it (see
//     "Block and unblock"), refused with 422 V5BS0125SC / V5BS0127SC when
//     both slots are in use and the named one holds a code of greater or
//     equal priority; it never answers 200 with the old code.
//   - A body with neither slot is 400 errorCode 240009; a bad account id or
//     block code is a VisionPLUS 400 with the page's code; an out-of-range
//     businessUnit is 400 errorCode 240010.
//   - A gateway timeout is a plain-text 504 from a proxy, not the error
//     array.
//   - Its faults (package sandboxfault), injected or drawn at a rate, are
//     answered so: retryable and nested failed (the platform has no nested
//     failure envelope), 503 errorCode 250301 without applying; timeout,
//     a hang without applying, then the plain-text 504; apply then drop
//     and status lags (the inquiry is a state read with no UNKNOWN answer,
//     and nothing documents one that lags), the call applied and the
//     connection closed unanswered; apply then timeout and apply then not
//     responding (the platform has no "the bank did not answer" error),
//     the call applied, then 504 with the error array, errorCode 250401 by
//     the pattern of 250301; late delivery, a hang unanswered until the
//     client gives up, then the call applied LateBy later; token expired,
//     the token revoked and 401 errorCode 240101.
//
// # Where the code does not follow this yet
//
//   - An unblock that does not name its block (no blockTrackId) is sent for
//     the slot it names. When that block's code went into the other, unused
//     slot (its result's codeSlot), the upstream must name that slot; only
//     an unblock that names its block is checked (REJECTED SLOT_MISMATCH).
package card
