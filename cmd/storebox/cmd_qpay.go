package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/storebox/storebox/daemon/payments"
	"github.com/storebox/storebox/sync/qpay"
)

// qpayCommand is `storebox qpay`: a technician's check of the QPay
// credentials in [payments.qpay] and a look at one order at the bank.
func qpayCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "qpay",
		Short: "check SinoPac QPay credentials and query orders at the bank",
	}
	client := func(cmd *cobra.Command) (*qpay.Client, error) {
		c, err := g.loadConfig()
		if err != nil {
			return nil, err
		}
		q := c.Payments.QPay
		if q.BaseURL == "" || q.ShopNo == "" {
			return nil, errors.New("payments.qpay.base_url and shop_no are not set in the config; set them (and a1, a2, b1, b2) first")
		}
		return payments.NewQPayClient(q, slog.New(slog.DiscardHandler))
	}
	printJSON := func(cmd *cobra.Command, v any) error {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	root.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "prove the keys work: one signed OrderQuery for a made-up order number",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			_, err = c.QueryOrder(cmd.Context(), "STOREBOX-CHECK-0")
			switch {
			case err == nil:
				fmt.Fprintln(cmd.OutOrStdout(), "qpay: OK (nonce fetched, request accepted, reply signature verified)")
				return nil
			case errors.Is(err, qpay.ErrUnavailable):
				return fmt.Errorf("%w\ncheck payments.qpay.base_url and the network", err)
			case errors.Is(err, qpay.ErrUntrusted):
				return fmt.Errorf("%w\nthe reply's signature does not match: check payments.qpay.a1..b2 and shop_no", err)
			default:
				return fmt.Errorf("%w\nthe bank refused the request: check payments.qpay.shop_no and a1..b2", err)
			}
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "query ORDER_NO",
		Short: "show what the bank reports for an order number (OrderQuery)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			tx, err := c.QueryOrder(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd, tx)
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "paytoken TOKEN",
		Short: "show what the bank reports for a notify's PayToken (OrderPayQuery)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			tx, err := c.QueryPayToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd, tx)
		},
	})
	return root
}
