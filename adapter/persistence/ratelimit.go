package persistence

import (
	"context"
	"sort"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/usecase/ratelimit"
)

// ipWindowRecord is a row of ip_rate_windows.
type ipWindowRecord struct {
	IP          string    `gorm:"column:ip;primaryKey"`
	WindowStart time.Time `gorm:"column:window_start;primaryKey"`
	Count       int64     `gorm:"column:count"`
}

func (ipWindowRecord) TableName() string { return "ip_rate_windows" }

// IPCounts stores the per-IP request counts shared by instances.
type IPCounts struct {
	db *gorm.DB
}

var _ ratelimit.Store = (*IPCounts)(nil)

// NewIPCounts returns an IPCounts on db.
func NewIPCounts(db *gorm.DB) *IPCounts { return &IPCounts{db: db} }

// Add implements ratelimit.Store: one upsert adding the deltas, then one
// read of the totals, in a transaction.
func (s *IPCounts) Add(ctx context.Context, window time.Time, deltas map[string]int64) (map[string]int64, error) {
	w := toDB(window)
	recs := make([]ipWindowRecord, 0, len(deltas))
	ips := make([]string, 0, len(deltas))
	for ip, n := range deltas {
		recs = append(recs, ipWindowRecord{IP: ip, WindowStart: w, Count: n})
		ips = append(ips, ip)
	}
	// A stable order keeps two instances' upserts from locking rows in
	// opposite orders.
	sort.Slice(recs, func(i, j int) bool { return recs[i].IP < recs[j].IP })
	out := make(map[string]int64, len(deltas))
	err := inTx(ctx, s.db, func(db *gorm.DB) error {
		err := db.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "ip"}, {Name: "window_start"}},
			DoUpdates: clause.Assignments(map[string]any{"count": gorm.Expr("ip_rate_windows.count + excluded.count")}),
		}).CreateInBatches(recs, 500).Error
		if err != nil {
			return err
		}
		var rows []ipWindowRecord
		for start := 0; start < len(ips); start += 500 {
			end := min(start+500, len(ips))
			var part []ipWindowRecord
			if err := db.Where("window_start = ? AND ip IN ?", w, ips[start:end]).Find(&part).Error; err != nil {
				return err
			}
			rows = append(rows, part...)
		}
		for _, r := range rows {
			out[r.IP] = r.Count
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr("add ip counts", err)
	}
	return out, nil
}

// Prune implements ratelimit.Store.
func (s *IPCounts) Prune(ctx context.Context, before time.Time) error {
	return stmtErr("prune ip counts", conn(ctx, s.db).Where("window_start < ?", toDB(before)).Delete(&ipWindowRecord{}))
}
