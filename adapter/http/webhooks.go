package httpadapter

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/domain/id"
	"github.com/gatehouse/gatehouse/domain/webhook"
	"github.com/gatehouse/gatehouse/usecase/admin"
	"github.com/gatehouse/gatehouse/usecase/delivery"
)

// WebhookAdmin are the operators' webhook interactors.
type WebhookAdmin struct {
	List  DeliveryLister
	Retry DeliveryRetrier
}

// DeliveryLister pages webhook deliveries (delivery.DeliveryList).
type DeliveryLister interface {
	List(ctx context.Context, a admin.Actor, status, cursor string, limit int) (webhook.DeliveryPage, error)
}

// DeliveryRetrier makes a delivery pending again (delivery.DeliveryRetry).
type DeliveryRetrier interface {
	Retry(ctx context.Context, a admin.Actor, eventID string) error
}

var (
	_ DeliveryLister  = (*delivery.DeliveryList)(nil)
	_ DeliveryRetrier = (*delivery.DeliveryRetry)(nil)
)

// registerWebhookAdmin serves /admin/webhooks; the use cases check the
// admin role and, for the retry, the rule of writes.
func registerWebhookAdmin(e *echo.Echo, w *WebhookAdmin, authed, fresh echo.MiddlewareFunc) {
	get(e, "/admin/webhooks/deliveries", func(c echo.Context) error {
		limit, err := queryLimit(c, admin.MaxPage)
		if err != nil {
			return err
		}
		page, err := w.List.List(c.Request().Context(), actor(c), c.QueryParam("status"), c.QueryParam("cursor"), limit)
		if err != nil {
			return err
		}
		return ok(c, http.StatusOK, "Deliveries", newPage(page.Items, page.NextCursor, toDeliveryDTO))
	}, authed)
	e.POST("/admin/webhooks/deliveries/:id/retry", func(c echo.Context) error {
		eventID := c.Param("id")
		if !id.Valid(eventID) {
			return webhook.ErrNotFound
		}
		if err := w.Retry.Retry(c.Request().Context(), actor(c), eventID); err != nil {
			return err
		}
		return ok(c, http.StatusOK, "Delivery pending again", nil)
	}, authed, fresh)
}

type deliveryDTO struct {
	ID            string  `json:"id"`
	Type          string  `json:"type"`
	Status        string  `json:"status"`
	Attempts      int     `json:"attempts"`
	LastError     *string `json:"lastError"`
	CreatedAt     string  `json:"createdAt"`
	NextAttemptAt *string `json:"nextAttemptAt"`
}

func toDeliveryDTO(d webhook.Delivery) deliveryDTO {
	out := deliveryDTO{ID: d.ID, Type: string(d.Type), Status: d.Status, Attempts: d.Attempts,
		CreatedAt: rfc3339(d.CreatedAt), NextAttemptAt: optTime(d.NextAttemptAt)}
	if d.LastError != "" {
		out.LastError = &d.LastError
	}
	return out
}
