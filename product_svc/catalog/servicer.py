"""gRPC interface of the catalog (`shop.product.v1.ProductService`): parse the request, call one selector or
service, build the reply. Errors are raised as ApplicationError (products' refusals: shopkit.grpc.product_contract);
shopkit.grpc.server maps them to statuses."""

from __future__ import annotations

import uuid

import grpc

from product_svc.catalog import selectors, services
from product_svc.catalog.errors import CatalogValidationError, InvalidReservation
from shop.product.v1 import product_pb2, product_pb2_grpc
from shopkit.faults import apply_call
from shopkit.grpc.product_contract import product_message, reserved_line_message

SERVICE_NAME = product_pb2.DESCRIPTOR.services_by_name["ProductService"].full_name
MAX_IDS_PER_LOOKUP = selectors.MAX_PRODUCTS_PER_LOOKUP
# Fault switches every method obeys first (shopkit.faults, docs/faults.md): FaultInjected is UNAVAILABLE.
GRPC_FAULTS = ("products-grpc-latency", "products-errors")


def _order_id(raw: str) -> uuid.UUID:
    parsed = selectors.parse_uuid(raw)
    if parsed is None:
        raise InvalidReservation("order_id must be a UUID.")
    return parsed


class ProductServicer(product_pb2_grpc.ProductServiceServicer):
    def GetProduct(self, request: product_pb2.GetProductRequest, context: grpc.ServicerContext) -> product_pb2.Product:
        apply_call(GRPC_FAULTS)
        return product_message(selectors.product_get(product_id=request.id))

    def GetProducts(
        self, request: product_pb2.GetProductsRequest, context: grpc.ServicerContext
    ) -> product_pb2.GetProductsResponse:
        apply_call(GRPC_FAULTS)
        if len(request.ids) > MAX_IDS_PER_LOOKUP:
            raise CatalogValidationError({"ids": [f"At most {MAX_IDS_PER_LOOKUP} ids per call."]})
        products, missing = selectors.product_get_many(product_ids=request.ids)
        return product_pb2.GetProductsResponse(products=[product_message(p) for p in products], missing_ids=missing)

    def ReserveStock(
        self, request: product_pb2.ReserveStockRequest, context: grpc.ServicerContext
    ) -> product_pb2.ReserveStockResponse:
        apply_call(GRPC_FAULTS)
        order_id = _order_id(request.order_id)
        if len(request.lines) > services.MAX_RESERVATION_LINES:
            raise InvalidReservation(f"A reservation has at most {services.MAX_RESERVATION_LINES} lines.")
        lines = []
        for line in request.lines:
            product_id = selectors.parse_uuid(line.product_id)
            if product_id is None:
                raise InvalidReservation("Every product_id must be a UUID.")
            lines.append((product_id, line.quantity))
        result = services.stock_reserve(order_id=order_id, lines=lines)
        return product_pb2.ReserveStockResponse(
            order_id=str(order_id),
            lines=[reserved_line_message(line) for line in result.lines],
            replayed=result.replayed,
        )

    def ReleaseStock(
        self, request: product_pb2.ReleaseStockRequest, context: grpc.ServicerContext
    ) -> product_pb2.ReleaseStockResponse:
        apply_call(GRPC_FAULTS)
        order_id = _order_id(request.order_id)
        released = services.stock_release(order_id=order_id)
        return product_pb2.ReleaseStockResponse(order_id=str(order_id), released=released)

    def ConfirmReservation(
        self, request: product_pb2.ConfirmReservationRequest, context: grpc.ServicerContext
    ) -> product_pb2.ConfirmReservationResponse:
        apply_call(GRPC_FAULTS)
        order_id = _order_id(request.order_id)
        confirmed = services.stock_confirm(order_id=order_id)
        return product_pb2.ConfirmReservationResponse(order_id=str(order_id), confirmed=confirmed)


def register(server: grpc.Server) -> None:
    product_pb2_grpc.add_ProductServiceServicer_to_server(ProductServicer(), server)
