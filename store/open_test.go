package store_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/storetest"
)

// missingDatabase returns the URL of a database that does not exist on the
// test server, dropped after the test if something created it.
func missingDatabase(t *testing.T) string {
	t.Helper()
	base, err := url.Parse(storetest.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	name := "blockd_missing_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	u := *base
	u.Path = "/" + name
	admin := *base
	admin.Path = "/postgres"
	t.Cleanup(func() {
		db, err := sql.Open("postgres", admin.String())
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)")
	})
	return u.String()
}

func TestOpenCreatesTheDatabaseOnlyWhenToldTo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := missingDatabase(t)

	_, err := store.Open(ctx, dbURL)
	if !errors.Is(err, store.ErrDatabaseMissing) {
		t.Fatalf("Open of a missing database: got %v, want ErrDatabaseMissing", err)
	}
	if !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error %q does not say the database does not exist", err)
	}

	s, err := store.Open(ctx, dbURL, store.CreateDatabase())
	if err != nil {
		t.Fatalf("Open with CreateDatabase: %v", err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("the created database does not answer: %v", err)
	}
}
