// Package arhivaar is blockd's Arhivaar partner API client and adapter for
// account block / activate.
//
// Arhivaar has one call that blockd uses: POST
// {base}/partner-api/account/block.html with the form fields id, block
// ("true" blocks the account, "false" activates it) and note, signed with
// the partner's acc_key and sig. It answers {"response":"OK"}, or
// {"response":"ERROR","responseDescription":<code>} with one of the codes
// below, possibly with HTTP 200; the description is read as a string or an
// object. Every failure is a *providers.Error whose Class says whether the
// call may have been applied (see classify.go): an answer the page does not
// list is of unknown outcome, never a refusal.
//
// The call sets a state: blocking a blocked account or activating an active
// one is taken to be accepted and to change nothing (see "Idempotency"). A
// timeout or a lost answer is Unknown: the account may now be in the state
// that was asked for, and Arhivaar has no call that tells it. The Adapter's
// Resolve then sends the same state again, but only once the original call
// can no longer land (see "Unknown outcomes"): a re-send is idempotent, but
// an original that lands after the account's next command would undo it.
//
// The Adapter maps a providers.Request onto the Client. Package
// arhivaarfake, beside this one, simulates Arhivaar for tests and
// development; the path, fields, signature, replies and codes the two share
// are written once, in internal/wire.
//
// The rest of this comment is the contract the package implements: what
// Arhivaar documents, and what blockd decided where Arhivaar is silent. It
// ends with the places where the code does not follow it yet.
//
// # Sources
//
// Every fact below carries one of these tags:
//
//   - [page: account block]: Arhivaar's own page "Blokeeri konto" (block
//     account, in Estonian), https://api.arhivaar.ee/partner-api/account/block.html,
//     with two sample requests and answers. Code comments call it "the
//     seed".
//   - [assumed: why]: no source states it; blockd decided it, for the
//     reason given. Client and sandbox share every assumed shape (in
//     internal/wire), so they agree; change it there when Arhivaar confirms.
//
// No public source about Arhivaar's API was found (no code, docs or pages
// mention api.arhivaar.ee), so everything beyond the page is assumed.
//
// Code comments elsewhere point into this document as (arhivaar/doc.go,
// "Heading"), the path below providers/, mark a shape blockd assumed as
// ASSUMPTION (arhivaar/doc.go, "Heading"), and mark code that does not follow
// the contract yet as DEVIATION (arhivaar/doc.go, "Where the code does not
// follow this yet").
//
// # Request
//
//	POST /partner-api/account/block.html
//	Content-Type: application/x-www-form-urlencoded; charset=UTF-8
//
//	id=6475736574794c4e2f594d3d&block=true&note=Maksmata+arve.&acc_key=...&sig=...
//
// [page: account block]. The base URL is configuration; the page's host is
// https://api.arhivaar.ee. The fields, all required:
//
//   - id: the account's encoded id, a string [page: account block]. It is
//     opaque: blockd sends it exactly as Arhivaar gave it [assumed: the
//     sample looks like hex of a base64 string, but nothing says how it is
//     made].
//   - block: a Boolean, true to block the account, false to activate it
//     [page: account block], written true or false as in the samples.
//   - note: why the account is blocked or activated; not empty and at most
//     1000 characters [page: account block]. Characters are Unicode code
//     points, and a note of white space only counts as empty [assumed:
//     the page does not say; blockd's JSON Schema checks the same].
//   - acc_key: the partner's access key [page: account block, samples].
//   - sig: the request's signature [page: account block, samples].
//
// The fields go in the samples' order, id, block, note, acc_key, sig; values
// are form-encoded with a space as '+' and sig percent-encoded (%2B, %3D)
// [page: account block, samples]. blockd builds the body by hand, since
// url.Values.Encode sorts the fields.
//
// # Signature
//
// The page shows sig but not how it is made. blockd uses the standard base64
// (with padding) of HMAC-SHA1, keyed with the partner secret, over the body
// before "&sig=", exactly as sent [assumed: the samples' sigs are 28 base64
// characters, a 20-byte digest, which fits SHA-1; their secret is not given,
// so they cannot be checked]. The secret is never sent, logged or put in an
// error.
//
// # Answers
//
// A JSON object, Content-Type application/json;charset=UTF-8, with
// Cache-Control no-store [page: account block]:
//
//	{"response": "OK"}
//	{"response": "ERROR", "responseDescription": "INVALID_NOTE"}
//
// response is OK or ERROR; responseDescription is there only with ERROR
// and holds one error code [page: account block]. The page gives
// responseDescription the type "Error" rather than String, so its JSON
// shape is not certain. blockd reads a string holding the code, or an
// object whose code, name, value, errorCode, error, type or id field (the
// first in that order that holds one word, nested objects read the same
// way) holds it, so that a documented refusal is one whatever its shape; a
// description without a code is an ERROR without a code, which the page
// does not list (see "Error codes") [assumed: the page defines no type
// "Error"].
// The samples answer HTTP 200 [page: account block]; errors may come with
// 200 too, so the body is always read [assumed].
//
// # Error codes
//
// What each answer means for blockd: permanent (refused; sending it again
// cannot help), retryable (not applied; a new attempt may succeed) or
// unknown (may have been applied; see "Unknown outcomes").
//
//   - ERROR INVALID_ID, INVALID_BLOCK or INVALID_NOTE: id, block or note
//     is missing or wrong [page: account block]. Permanent.
//   - ERROR INVALID_SIGNATURE: acc_key is unknown or sig does not match.
//     Permanent [assumed: the page lists no code for it; blockd and its
//     sandbox use this one].
//   - OK with a 2xx status: applied.
//   - HTTP 429 or 503: retryable [assumed: by their HTTP meaning the
//     server did not handle the request, too many requests or unable to
//     handle it now, so nothing was applied].
//   - No connection could be made (the dial failed): retryable, nothing
//     was sent.
//   - HTTP 408, 500, 502, 504 or another 5xx, a timeout, a lost answer:
//     unknown. A 502 says a gateway got no good answer from the server
//     behind it, which may have carried the call out; sending the same
//     state again at once would not be safe, since that call could still
//     land after the account's next command.
//   - Any answer the page does not list (ERROR with another code or none,
//     a 2xx that is not such JSON, another status) is unknown, never taken
//     as "not applied" [assumed: nothing proves it was not applied].
//
// # Idempotency
//
// The call sets a state and carries no request id or trackId. Sending the
// same block or activate again leaves the account in the same state
// [assumed: the page does not say what a repeated call does]; it is safe
// once the first call can no longer land, or was not handled (see "Error
// codes" and "Unknown outcomes"). Order
// matters instead: a late block could undo a newer activate, so blockd
// sends a command for an account only after every earlier command for it
// has an outcome (consumer/processor, awaitAccountTurn).
//
// # Unknown outcomes
//
// Arhivaar has no call that reports an account's state. A call of unknown
// outcome is settled by sending the same state again: OK means the account
// is in the state asked for (applied; the Result says "stateFrom":
// "resend"), and a documented refusal of the same input (INVALID_ID,
// INVALID_BLOCK, INVALID_NOTE, and the assumed INVALID_SIGNATURE) means the
// first call was refused too (not applied). Any other answer to the
// re-send (one the page does not list, a 429 or 503, a timeout or another
// transport failure) proves nothing: unproven, asked again later. The
// re-send goes out only once the original call can no longer land: after
// its send time plus the call timeout plus a margin,
// providers.Request.CannotLandAfter, which the processor sets; before it,
// or when it is unset, nothing is sent and the outcome is unproven
// [assumed: a late original could otherwise land after the command that
// follows it].
//
// # The sandbox
//
// Package arhivaarfake speaks this contract through internal/wire, with
// the client's deviations below. Its own choices, which are not Arhivaar's:
//
//   - Every well-formed id names an existing, active account; an id is
//     lowercase hex of even length, 2–512 digits, like the page's sample.
//   - A call that sets the state the account is already in is accepted
//     (it counts as a call, not a change) and replaces the note.
//   - Checks run in this order, the first failing one answering: content
//     type, signature (an unknown acc_key or a wrong sig, both
//     INVALID_SIGNATURE with HTTP 200), id, block (exactly "true" or
//     "false"), note.
//   - A throttled, broken or overloaded sandbox answers a non-2xx status
//     with an ERROR reply and its own code (SERVICE_UNAVAILABLE 503,
//     GATEWAY_TIMEOUT 504, UNSUPPORTED_MEDIA_TYPE 415, BAD_REQUEST 400).
//     The client takes the 503 as retryable by its status, and the others
//     as unknown: their codes are not Arhivaar's.
//   - Its faults (package sandboxfault), injected or drawn at a rate, are
//     answered so: retryable and nested failed (Arhivaar has no nested
//     failure envelope), 503 without applying; timeout, a hang without
//     applying, then 504; apply then drop and status lags (Arhivaar has no
//     status inquiry), the call applied and the connection closed
//     unanswered; apply then timeout and apply then not responding
//     (Arhivaar has no "the bank did not answer" error), the call applied,
//     then the very 504 of a timeout, since a gateway that gave up says
//     the same whether or not the call went through behind it; late
//     delivery, a hang unanswered until the client gives up, then the call
//     applied LateBy later; token expired (Arhivaar has no token),
//     INVALID_SIGNATURE without applying.
//
// # Where the code does not follow this yet
//
//   - Nothing known: the client, the fake and the processor follow the
//     contract above as far as this package can tell. The signature rule
//     itself is an assumption until Arhivaar confirms it ("Signature").
package arhivaar
